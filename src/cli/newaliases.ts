// `roost newaliases`: compiles <data>/aliases (/etc/aliases format, aliases(5)) into LMDB, as Postfix's
// newaliases(1); a running daemon reads the new database at its next lookup.
import type { Command } from 'commander';
import { loadContext, withCommonOptions, type CommonOptions } from './context.js';
import { compileAliases } from '../mta/aliases.js';
import { dataFile } from '../mta/service.js';

export function registerNewaliasesCommand(program: Command): void {
  withCommonOptions(program.command('newaliases').description('Compile the aliases file into its LMDB database')).action((opts: CommonOptions) => {
    const { dataDir, config } = loadContext(opts);
    const file = dataFile(dataDir, config.smtp.alias_maps);
    const n = compileAliases(file);
    process.stdout.write(`newaliases: ${file}: ${n} alias${n === 1 ? '' : 'es'}\n`);
  });
}
