// CREATE (RFC 9051 section 6.3.4, RFC 3501 6.3.3) with CREATE-SPECIAL-USE (RFC 6154 section 3: "(USE (\Sent))") and the
// OBJECTID MAILBOXID response code (RFC 8474 section 4.1); a trailing hierarchy separator is dropped, as Dovecot does.
import { ArgCursor } from '../proto/arg-cursor.js';
import { isStorageError } from '../../../storage/api.js';
import { mailboxId } from '../objectid/ids.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { no, ok, type ImapCommandSpec } from '../types.js';

/** Special-use attributes a mailbox may be created with (RFC 6154 section 2, RFC 8457 \Important). */
const SPECIAL_USES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important'];

/** create-param list (RFC 4466): only USE is known; returns the requested special-use attributes. */
function parseCreateParams(args: ArgCursor): string[] {
  const uses: string[] = [];
  if (args.done) return uses;
  const params = args.list('CREATE parameters');
  while (!params.done) {
    const name = params.keyword('CREATE parameter');
    if (name !== 'USE') throw new ProtocolError(`Unknown CREATE parameter ${name.slice(0, 40)}`);
    const list = params.list('USE attributes');
    while (!list.done) uses.push(list.atom('special-use attribute'));
  }
  return uses;
}

export const createCommand: ImapCommandSpec = {
  name: 'CREATE',
  states: ['authenticated', 'selected'],
  // OBJECTID rests on CREATE answering MAILBOXID; STATUS, SELECT and FETCH carry the other object ids.
  capabilities: () => ['CREATE-SPECIAL-USE', 'OBJECTID'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    let name = parseMailboxName(args.next('mailbox name'), { utf8: s.utf8Names });
    const uses = parseCreateParams(args);
    args.end();
    const separator = s.storage!.separator;
    if (name.endsWith(separator)) name = name.slice(0, -separator.length);
    if (name.toUpperCase() === 'INBOX') name = 'INBOX';
    const known = uses.map((u) => SPECIAL_USES.find((k) => k.toLowerCase() === u.toLowerCase()));
    if (known.some((u) => u === undefined)) return no('Unsupported special-use attribute.', 'USEATTR');
    if (known.length > 1) return no('A mailbox can have only one special-use attribute.', 'USEATTR');
    await s.storage!.createMailbox(name, known[0] ? { specialUse: known[0] } : {});
    // RFC 8474 section 4.1: the tagged OK names the new mailbox's MAILBOXID (Dovecot's words: "OK [MAILBOXID (id)] Create
    // completed."). The id comes from the UIDVALIDITY that STATUS also reads, so both always agree.
    try {
      const { uidValidity } = await s.storage!.status(name);
      return ok('Create completed.', `MAILBOXID (${mailboxId(s.user!.user, uidValidity)})`);
    } catch (err) {
      // Deleted again by another session before it could be looked at: created all the same.
      if (isStorageError(err, 'NOTFOUND')) return ok('Create completed.');
      throw err;
    }
  },
};
