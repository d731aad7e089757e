// `roost config check` (validate and print the non-default settings, like doveconf -n / postconf -n)
// and `roost config sample` (the commented sample config generated from the schema).
import type { Command } from 'commander';
import { loadContext, withCommonOptions } from './context.js';
import { ConfigError, effectiveSettings, sampleConfig } from '../config/load.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check or print the configuration');
  withCommonOptions(config.command('check').description('validate the config and print the settings that differ from the defaults')).action(
    (opts: { data?: string; config?: string }) => {
      try {
        const ctx = loadContext(opts);
        process.stdout.write(`# ${ctx.configFile ?? 'embedded defaults'}\n`);
        process.stdout.write(effectiveSettings(ctx.config));
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`roost: config error: ${e.message}\n`);
          process.exit(78);
        }
        throw e;
      }
    },
  );
  config
    .command('sample')
    .description('print the commented sample config (every key with its default)')
    .action(() => {
      process.stdout.write(sampleConfig());
    });
}
