// The `roost` command tree (commander): serve, config check|sample, version, and the
// subcommands of auth, users, passwords, mailboxes, index and queue registered by their modules.
import { Command } from 'commander';
import { registerServeCommand } from './serve.js';
import { registerConfigCommands } from './config.js';
import { registerVersionCommand } from './version.js';
import { registerLayerCommands } from './layer-commands.js';

export function buildProgram(): Command {
  const program = new Command('roost')
    .description('Roost mail server: IMAP, POP3, LMTP, SASL auth socket, MTA core')
    .showHelpAfterError()
    .exitOverride((err) => {
      process.exit(err.exitCode);
    });
  registerServeCommand(program);
  registerConfigCommands(program);
  registerVersionCommand(program);
  registerLayerCommands(program);
  return program;
}
