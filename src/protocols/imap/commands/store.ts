// STORE and UID STORE (RFC 9051 section 6.4.6, RFC 3501 6.4.6, RFC 7162 3.1.3 UNCHANGEDSINCE): set, add or
// remove flags and keywords; untagged FETCH FLAGS for each message unless .SILENT, UID too for UID STORE.
import { parseStoreArgs } from '../proto/store-args.js';
import { no, ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { compressNumbers } from '../../../lib/sequence-set.js';
import { clientFlags, formatFlagList } from '../fetch/client-flags.js';
import { enableCondstore } from '../condstore/condstore.js';

async function runStore(s: ImapSessionApi, cmd: ImapCommand, byUid: boolean): Promise<Completion> {
  const args = parseStoreArgs(cmd.args);
  const box = s.selected!;
  const targets = box.resolve(args.sequence, byUid);
  if (box.readOnly) return no('Mailbox is read-only.', 'READ-ONLY');
  if (targets.length === 0) return ok('Store completed.');
  const flagsBefore = new Set(box.knownFlags());
  const mode = args.action === 'set' ? 'replace' : args.action;
  // UNCHANGEDSINCE is a CONDSTORE enabling command (RFC 7162 section 3.1).
  if (args.unchangedSince !== undefined) enableCondstore(s);
  const condstore = s.enabled.has('CONDSTORE');
  const unchangedSince = args.unchangedSince === undefined ? undefined : args.unchangedSince > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(args.unchangedSince);
  const result = await box.mailbox.updateFlags(
    targets.map((t) => t.msg.uid),
    mode,
    [...args.flags],
    unchangedSince === undefined ? {} : { unchangedSince },
  );

  // A keyword the mailbox did not have yet: tell the client the new FLAGS and PERMANENTFLAGS (as Dovecot does).
  const flagsAfter = box.knownFlags();
  if (flagsAfter.some((f) => !flagsBefore.has(f))) {
    s.untagged(`FLAGS (${flagsAfter.join(' ')})`);
    s.untagged(`OK [PERMANENTFLAGS (${flagsAfter.join(' ')} \\*)] Flags permitted.`);
  }

  // With CONDSTORE on, even .SILENT reports the new MODSEQ of each changed message (RFC 7162 section 3.1.3).
  if (!args.silent || condstore) {
    const updated = new Map(result.updated.map((u) => [u.uid, u]));
    for (const { seq, msg } of targets) {
      const u = updated.get(msg.uid);
      // Not reported: expunged meanwhile, refused by UNCHANGEDSINCE, or flags already as asked (as Dovecot).
      if (!u || u.modseq === msg.modseq) continue;
      const current = box.messages()[seq - 1];
      const flags = clientFlags(s, box, current && current.uid === msg.uid ? current : { ...msg, flags: u.flags });
      // UID first for UID STORE and once QRESYNC is on (RFC 7162 section 3.2.4), then MODSEQ, then FLAGS (as Dovecot).
      const parts: string[] = [];
      if (byUid || s.enabled.has('QRESYNC')) parts.push(`UID ${msg.uid}`);
      if (condstore) parts.push(`MODSEQ (${u.modseq})`);
      if (!args.silent) parts.push(`FLAGS ${formatFlagList(flags)}`);
      s.untagged(`${seq} FETCH (${parts.join(' ')})`);
    }
  }
  if (result.modified.length > 0) {
    const numbers = byUid ? result.modified : result.modified.map((uid) => box.mailbox.seqOf(uid)).filter((n): n is number => n !== undefined);
    return ok('Conditional store failed.', `MODIFIED ${compressNumbers(numbers)}`);
  }
  return ok('Store completed.');
}

export const storeCommand: ImapCommandSpec = {
  name: 'STORE',
  states: ['selected'],
  deferExpunges: true,
  run: (s, cmd) => runStore(s, cmd, false),
};

export const uidStoreCommand: ImapCommandSpec = {
  name: 'UID STORE',
  states: ['selected'],
  run: (s, cmd) => runStore(s, cmd, true),
};
