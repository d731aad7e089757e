// MOVE and UID MOVE (RFC 6851, RFC 9051 section 6.4.8): copy then expunge atomically from the client's view;
// COPYUID in an untagged OK first, then the EXPUNGE (or VANISHED) responses from the after-command sync.
import { ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { copyUidCode, isCompletion, transferMessages } from './copy.js';

async function runMove(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const result = await transferMessages(s, cmd, byUid, 'move');
  if (isCompletion(result)) return result;
  const code = copyUidCode(result);
  if (code) s.untagged(`OK [${code}] Moved UIDs.`);
  // The session's sync after this command reports the moved messages as EXPUNGE / VANISHED.
  return ok('Move completed.');
}

export const moveCommand: ImapCommandSpec = {
  name: 'MOVE',
  states: ['selected'],
  capabilities: () => ['MOVE'],
  run: (s, cmd) => runMove(s, cmd, false),
};

export const uidMoveCommand: ImapCommandSpec = {
  name: 'UID MOVE',
  states: ['selected'],
  run: (s, cmd) => runMove(s, cmd, true),
};
