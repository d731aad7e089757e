// SELECT and EXAMINE (RFC 9051 sections 6.3.2 and 6.3.3): open a mailbox read-write or read-only and
// report FLAGS, PERMANENTFLAGS, EXISTS, RECENT (IMAP4rev1), UNSEEN, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the
// QRESYNC resync (RFC 7162 sections 3.1.8 and 3.2.5), MAILBOXID (RFC 8474 section 4), then the access.
import { parseSelectArgs } from '../proto/select-args.js';
import { bad, ok, no, type ImapCommandSpec, type ImapSessionApi, type Completion } from '../types.js';
import { CONDSTORE_CAPABILITIES, condstoreEnabled, qresyncEnabled } from '../condstore/condstore.js';
import { qresyncSelect } from '../condstore/qresync.js';
import { SelectedMailbox } from '../selected.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { formatMailbox } from '../proto/response.js';
import { mailboxId } from '../objectid/ids.js';
import { isAdvertised } from '../capabilities.js';

async function open(s: ImapSessionApi, cmd: ImapCommand, readOnly: boolean): Promise<Completion> {
  const { mailbox: name, condstore, qresync } = parseSelectArgs(cmd.args, { utf8: s.utf8Names });
  // QRESYNC needs ENABLE QRESYNC first (RFC 7162 section 3.2.5); CONDSTORE enables CONDSTORE (section 3.1.8).
  if (qresync && !qresyncEnabled(s)) return bad('QRESYNC has not been enabled.');
  if (condstore) s.enabled.add('CONDSTORE');
  // A failed SELECT leaves no mailbox selected; closing the previous one is announced (RFC 9051 section 6.3.2).
  if (s.selected) {
    await s.select(undefined);
    s.untagged('OK [CLOSED] Previous mailbox closed.');
  }
  const mailbox = await s.storage!.openMailbox(name, { readOnly });
  const box = new SelectedMailbox(mailbox, readOnly);
  await s.select(box);
  const flags = box.knownFlags();
  s.untagged(`FLAGS (${flags.join(' ')})`);
  s.untagged(readOnly ? 'OK [PERMANENTFLAGS ()] Read-only mailbox.' : `OK [PERMANENTFLAGS (${flags.join(' ')} \\*)] Flags permitted.`);
  s.untagged(`${box.exists} EXISTS`);
  if (!s.enabled.has('IMAP4REV2')) {
    s.untagged(`${mailbox.recentUids().size} RECENT`);
    const firstUnseen = mailbox.firstUnseenSeq();
    if (firstUnseen !== undefined) s.untagged(`OK [UNSEEN ${firstUnseen}] First unseen.`);
  }
  s.untagged(`OK [UIDVALIDITY ${mailbox.uidValidity}] UIDs valid`);
  s.untagged(`OK [UIDNEXT ${mailbox.uidNext()}] Predicted next UID`);
  if (condstoreEnabled(s)) s.untagged(`OK [HIGHESTMODSEQ ${mailbox.highestModseq()}] Highest`);
  // RFC 8474 section 4.2, once OBJECTID is advertised (it also needs MAILBOXID on CREATE's tagged OK, section 4.1).
  if (isAdvertised(s, 'OBJECTID')) s.untagged(`OK [MAILBOXID (${mailboxId(s.user!.user, mailbox.uidValidity)})] Ok`);
  if (s.enabled.has('IMAP4REV2')) {
    // RFC 9051 section 6.3.2: the server MUST send a LIST response with the mailbox name.
    s.untagged(`LIST () "${s.storage!.separator}" ${formatMailbox(name, { utf8: s.utf8Names })}`);
  }
  if (qresync) qresyncSelect(s, box, qresync);
  return ok(readOnly ? 'Examine completed.' : 'Select completed.', readOnly ? 'READ-ONLY' : mailbox.readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

export const selectCommand: ImapCommandSpec = {
  name: 'SELECT',
  states: ['authenticated', 'selected'],
  capabilities: () => CONDSTORE_CAPABILITIES,
  opensMailbox: true,
  run: (s, cmd) => open(s, cmd, false).catch((err) => (err?.code === 'NOTFOUND' ? no('Mailbox does not exist.', 'NONEXISTENT') : Promise.reject(err))),
};

export const examineCommand: ImapCommandSpec = {
  name: 'EXAMINE',
  states: ['authenticated', 'selected'],
  opensMailbox: true,
  run: (s, cmd) => open(s, cmd, true).catch((err) => (err?.code === 'NOTFOUND' ? no('Mailbox does not exist.', 'NONEXISTENT') : Promise.reject(err))),
};
