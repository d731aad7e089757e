// STATUS (RFC 9051 section 6.3.11, RFC 3501 6.3.10): counters of a mailbox without selecting it, with
// DELETED, SIZE (RFC 8438 STATUS=SIZE) and APPENDLIMIT (RFC 7889); HIGHESTMODSEQ only once CONDSTORE is offered.
import { isStorageError } from '../../../storage/api.js';
import { parseStatusArgs } from '../proto/status-args.js';
import { no, ok, type ImapCommandSpec } from '../types.js';
import { checkStatusItems, sendStatus } from './status-items.js';
import { formatMailbox } from '../proto/response.js';
import { enableCondstore } from '../condstore/condstore.js';

export const statusCommand: ImapCommandSpec = {
  name: 'STATUS',
  states: ['authenticated', 'selected'],
  capabilities: () => ['STATUS=SIZE'],
  async run(s, cmd) {
    const { mailbox, items } = parseStatusArgs(cmd.args, { utf8: s.utf8Names });
    checkStatusItems(s, items);
    // STATUS HIGHESTMODSEQ is a CONDSTORE enabling command (RFC 7162 section 3.1).
    if (items.includes('HIGHESTMODSEQ')) enableCondstore(s);
    let status;
    try {
      status = await s.storage!.status(mailbox);
    } catch (err) {
      // As Dovecot: a plain NO without a response code for a mailbox that does not exist.
      if (isStorageError(err, 'NOTFOUND')) return no(`Mailbox doesn't exist: ${formatMailbox(mailbox, { utf8: s.utf8Names })}`);
      throw err;
    }
    sendStatus(s, mailbox, items, status);
    // RFC 9051 section 6.3.11: clients should not ask STATUS of the selected mailbox; Dovecot says so with CLIENTBUG.
    if (s.selected?.name === mailbox) return ok('Status on selected mailbox completed.', 'CLIENTBUG');
    return ok('Status completed.');
  },
};
