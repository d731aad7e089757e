// Registers the subcommands that belong to other layers (auth, users, passwords, mailboxes,
// index, queue): each module exports a register function and is listed here once.
import type { Command } from 'commander';
import { registerAuthCommands } from './auth.js';
import { registerPwCommand } from './pw.js';
import { registerUserCommands } from './user.js';
import { registerQueueCommands } from './queue.js';
import { registerSendmailCommand } from './sendmail.js';
import { registerNewaliasesCommand } from './newaliases.js';
import { registerMailboxCommands } from './mailbox.js';
import { registerIndexCommands } from './index.js';
import { registerQuotaCommands } from './quota.js';
import { registerDeliverCommand } from './deliver.js';
import { registerConvertCommand } from './convert.js';

export function registerLayerCommands(program: Command): void {
  registerPwCommand(program);
  registerUserCommands(program);
  registerAuthCommands(program);
  registerQueueCommands(program);
  registerSendmailCommand(program);
  registerNewaliasesCommand(program);
  registerMailboxCommands(program);
  registerIndexCommands(program);
  registerQuotaCommands(program);
  registerDeliverCommand(program);
  registerConvertCommand(program);
}
