// The one table of POP3 commands: name, allowed states and the capability each adds to CAPA.
// The state check happens once, in the session, from this table.
import type { Pop3Command } from './types.js';
import { capaCommand } from './commands/capa.js';
import { userCommand } from './commands/user.js';
import { passCommand } from './commands/pass.js';
import { apopCommand } from './commands/apop.js';
import { authCommand } from './commands/auth.js';
import { stlsCommand } from './commands/stls.js';
import { statCommand } from './commands/stat.js';
import { listCommand } from './commands/list.js';
import { retrCommand } from './commands/retr.js';
import { topCommand } from './commands/top.js';
import { deleCommand } from './commands/dele.js';
import { noopCommand } from './commands/noop.js';
import { rsetCommand } from './commands/rset.js';
import { uidlCommand } from './commands/uidl.js';
import { quitCommand } from './commands/quit.js';

export const pop3Commands: ReadonlyMap<string, Pop3Command> = new Map(
  [capaCommand, userCommand, passCommand, apopCommand, authCommand, stlsCommand, statCommand, listCommand, retrCommand, topCommand, deleCommand, noopCommand, rsetCommand, uidlCommand, quitCommand].map((c) => [c.name, c]),
);
