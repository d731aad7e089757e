// COPY and UID COPY (RFC 9051 section 6.4.7, RFC 4315 UIDPLUS COPYUID): copy messages with their flags and
// internal dates to another mailbox; [TRYCREATE] when the destination does not exist (RFC 9051 7.1).
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { parseSequenceSetToken } from '../proto/fetch-args.js';
import { no, ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { compressNumbers, type SequenceSet } from '../../../lib/sequence-set.js';
import { isStorageError, type CopyResult } from '../../../storage/api.js';

/** The parsed arguments of COPY and MOVE: message set and destination mailbox. */
export function parseTransferArgs(s: ImapSessionApi, cmd: ImapCommand): { set: SequenceSet; destination: string } {
  const args = new ArgCursor(cmd.args);
  const set = parseSequenceSetToken(args.next('sequence set'));
  const destination = parseMailboxName(args.next('mailbox'), { utf8: s.utf8Names });
  args.end();
  return { set, destination };
}

/** "COPYUID <uidvalidity> <source uids> <destination uids>" (RFC 4315 section 3), in the order of the copy. */
export function copyUidCode(result: CopyResult): string | undefined {
  if (result.srcUids.length === 0) return undefined;
  const pairs = result.srcUids.map((src, i) => [src, result.destUids[i]!] as const).sort((a, b) => a[0] - b[0]);
  const src = compressNumbers(pairs.map((p) => p[0]));
  // Destination UIDs are listed in the order of their source UIDs; they are ascending too when allocated in order.
  const dest = pairs.map((p) => p[1]);
  const ascending = dest.every((d, i) => i === 0 || d > dest[i - 1]!);
  return `COPYUID ${result.uidValidity} ${src} ${ascending ? compressNumbers(dest) : dest.join(',')}`;
}

/**
 * What COPY and MOVE share: resolve the set, check the destination, transfer. Returns the storage result, or
 * the completion to answer with (no messages, or [TRYCREATE] when the destination does not exist, RFC 9051 7.1).
 */
export async function transferMessages(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean, how: 'copy' | 'move'): Promise<CopyResult | Completion> {
  const { set, destination } = parseTransferArgs(s, cmd);
  const box = s.selected!;
  const targets = box.resolve(set, byUid);
  if (how === 'move' && box.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
  try {
    if (targets.length === 0) {
      // Nothing to transfer, but a missing destination is still reported as such.
      await s.storage!.status(destination);
      return ok('No messages found.');
    }
    const uids = targets.map((t) => t.msg.uid);
    return await (how === 'copy' ? box.mailbox.copy(uids, destination) : box.mailbox.move(uids, destination));
  } catch (err) {
    if (isStorageError(err) && err.code === 'NOTFOUND') return no('Mailbox does not exist.', 'TRYCREATE');
    throw err;
  }
}

export function isCompletion(r: CopyResult | Completion): r is Completion {
  return 'status' in r;
}

async function runCopy(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const result = await transferMessages(s, cmd, byUid, 'copy');
  if (isCompletion(result)) return result;
  // Messages expunged meanwhile are skipped; COPYUID names exactly the ones copied.
  return ok('Copy completed.', copyUidCode(result));
}

export const copyCommand: ImapCommandSpec = {
  name: 'COPY',
  states: ['selected'],
  run: (s, cmd) => runCopy(s, cmd, false),
};

export const uidCopyCommand: ImapCommandSpec = {
  name: 'UID COPY',
  states: ['selected'],
  capabilities: () => ['UIDPLUS'],
  run: (s, cmd) => runCopy(s, cmd, true),
};
