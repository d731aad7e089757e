// `roost version`: the package version and the Node.js runtime.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export function roostVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      dir = dirname(dir);
    }
  }
  return 'unknown';
}

export function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description('print the version')
    .option('--data <dir>', 'ignored')
    .option('--config <file>', 'ignored')
    .action(() => {
      process.stdout.write(`roost ${roostVersion()} (node ${process.version})\n`);
    });
}
