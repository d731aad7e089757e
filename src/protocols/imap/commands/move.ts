// MOVE and UID MOVE (RFC 6851, RFC 9051 section 6.4.8): copy then expunge atomically from the client's view;
// COPYUID in an untagged OK first, then the EXPUNGE (or VANISHED) responses from the after-command sync.
import { no, ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import type { CopyResult } from '../../../storage/api.js';
import { copyUidCode, parseTransferArgs, transferFailure } from './copy.js';

async function runMove(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const { set, destination } = parseTransferArgs(s, cmd);
  const box = s.selected!;
  const targets = box.resolve(set, byUid);
  if (box.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
  let result: CopyResult;
  try {
    await s.storage!.status(destination);
    if (targets.length === 0) return ok('No messages found.');
    result = await box.mailbox.move(
      targets.map((t) => t.msg.uid),
      destination,
    );
  } catch (err) {
    const failure = transferFailure(err);
    if (failure) return failure;
    throw err;
  }
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
