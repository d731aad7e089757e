// What every `roost` subcommand starts from: the data directory (--data, default ./var)
// and the validated config (--config FILE, else config/roost.toml, else embedded defaults).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface CliContext {
  dataDir: string;
  config: Config;
  configFile?: string;
}

export interface CommonOptions {
  data?: string;
  config?: string;
}

/** Adds --data and --config to a subcommand. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'data directory (passwd, mail, run, index, queue, certs)', './var')
    .option('--config <file>', 'config file (default: config/roost.toml when it exists, else embedded defaults)');
}

/** Loads the config and resolves the data directory; throws ConfigError on a bad config. */
export function loadContext(opts: CommonOptions): CliContext {
  const loaded: LoadedConfig = loadConfig(opts.config);
  return { dataDir: resolve(opts.data ?? './var'), config: loaded.config, configFile: loaded.file };
}
