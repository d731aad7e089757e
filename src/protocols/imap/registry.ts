// The one table of IMAP commands: name, allowed states, capabilities. CAPABILITY and the state
// check derive from it (RFC 9051 section 6); each command lives in commands/<verb>.ts.
import type { ImapCommandSpec } from './types.js';
import { capabilityCommand } from './commands/capability.js';
import { noopCommand } from './commands/noop.js';
import { logoutCommand } from './commands/logout.js';
import { starttlsCommand } from './commands/starttls.js';
import { loginCommand } from './commands/login.js';
import { authenticateCommand } from './commands/authenticate.js';
import { enableCommand } from './commands/enable.js';
import { idCommand } from './commands/id.js';
import { selectCommand, examineCommand } from './commands/select.js';
import { closeCommand, unselectCommand } from './commands/close.js';
import { checkCommand } from './commands/check.js';
import { expungeCommand, uidExpungeCommand } from './commands/expunge.js';
import { idleCommand } from './commands/idle.js';
import { namespaceCommand } from './commands/namespace.js';
import { createCommand } from './commands/create.js';
import { deleteCommand } from './commands/delete.js';
import { renameCommand } from './commands/rename.js';
import { subscribeCommand } from './commands/subscribe.js';
import { unsubscribeCommand } from './commands/unsubscribe.js';
import { listCommand } from './commands/list.js';
import { lsubCommand } from './commands/lsub.js';
import { statusCommand } from './commands/status.js';
import { appendCommand } from './commands/append.js';
import { storeCommand, uidStoreCommand } from './commands/store.js';
import { copyCommand, uidCopyCommand } from './commands/copy.js';
import { moveCommand, uidMoveCommand } from './commands/move.js';
import { fetchCommand, uidFetchCommand } from './commands/fetch.js';
import { searchCommand, uidSearchCommand } from './commands/search.js';
import { sortCommand, uidSortCommand } from './commands/sort.js';
import { threadCommand, uidThreadCommand } from './commands/thread.js';
import { getquotaCommand } from './commands/getquota.js';
import { getquotarootCommand } from './commands/getquotaroot.js';
import { setquotaCommand } from './commands/setquota.js';
import { compressCommand } from './commands/compress.js';
import { getmetadataCommand } from './commands/getmetadata.js';
import { setmetadataCommand } from './commands/setmetadata.js';
import { notifyCommand } from './commands/notify.js';

const commands: ImapCommandSpec[] = [
  capabilityCommand,
  noopCommand,
  logoutCommand,
  starttlsCommand,
  loginCommand,
  authenticateCommand,
  enableCommand,
  idCommand,
  selectCommand,
  examineCommand,
  closeCommand,
  unselectCommand,
  checkCommand,
  expungeCommand,
  uidExpungeCommand,
  idleCommand,
  namespaceCommand,
  createCommand,
  deleteCommand,
  renameCommand,
  subscribeCommand,
  unsubscribeCommand,
  listCommand,
  lsubCommand,
  statusCommand,
  appendCommand,
  storeCommand,
  uidStoreCommand,
  copyCommand,
  uidCopyCommand,
  moveCommand,
  uidMoveCommand,
  fetchCommand,
  uidFetchCommand,
  searchCommand,
  uidSearchCommand,
  sortCommand,
  uidSortCommand,
  threadCommand,
  uidThreadCommand,
  getquotaCommand,
  getquotarootCommand,
  setquotaCommand,
  compressCommand,
  getmetadataCommand,
  setmetadataCommand,
  notifyCommand,
];

export const imapCommands: ReadonlyMap<string, ImapCommandSpec> = new Map(commands.map((c) => [c.name, c]));

