// Entry point of the `roost` command: argv -> subcommand. No logic lives here; each subcommand
// is registered from src/cli/.
import { buildProgram } from './cli/program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`roost: ${(err as Error).message}\n`);
    process.exit(1);
  });
