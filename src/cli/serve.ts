// `roost serve`: runs the daemon in the foreground, logging to stdout (journald-friendly).
import type { Command } from 'commander';
import { loadContext, withCommonOptions } from './context.js';
import { configureLogger } from '../lib/logger.js';
import { ConfigError } from '../config/load.js';

export function registerServeCommand(program: Command): void {
  withCommonOptions(program.command('serve').description('run the mail server in the foreground'))
    .option('--log-format <format>', 'log line format: json or pretty')
    .action(async (opts: { data?: string; config?: string; logFormat?: 'json' | 'pretty' }) => {
      let ctx;
      try {
        ctx = loadContext(opts);
      } catch (e) {
        if (e instanceof ConfigError) {
          process.stderr.write(`roost: config error: ${e.message}\n`);
          process.exit(78); // EX_CONFIG
        }
        throw e;
      }
      const format = opts.logFormat ?? ctx.config.log.format;
      if (format !== 'json' && format !== 'pretty') throw new Error(`--log-format must be json or pretty`);
      configureLogger({ level: ctx.config.log.level, format });
      const { Daemon } = await import('../server/daemon.js');
      const daemon = await Daemon.start({ dataDir: ctx.dataDir, config: ctx.config, configFile: ctx.configFile });
      daemon.handleSignals();
    });
}
