// SETMETADATA (RFC 5464 section 4.3): sets or (with NIL) removes entries of the server ("") or a mailbox, all or
// nothing; too big a value is NO [METADATA MAXSIZE n], too many entries NO [METADATA TOOMANY].
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { MetadataLimitError } from '../../../storage/api.js';
import { no, ok, type ImapCommandSpec } from '../types.js';
import type { ImapToken } from '../proto/tokens.js';
import { checkEntryName, metadataScope } from '../metadata/entries.js';

/** value = nstring / literal8 (RFC 5464 section 5). */
function entryValue(t: ImapToken): Buffer | null {
  if (t.type === 'nil') return null;
  if (t.type === 'literal') return t.value;
  if (t.type === 'string') return Buffer.from(t.value, 'utf8');
  throw new ProtocolError('Entry value must be a string, a literal or NIL');
}

export const setmetadataCommand: ImapCommandSpec = {
  name: 'SETMETADATA',
  states: ['authenticated', 'selected'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const mailbox = parseMailboxName(args.next('mailbox'), { utf8: s.utf8Names });
    const list = args.list('entry values');
    args.end();
    const changes = new Map<string, Buffer | null>();
    do {
      const name = checkEntryName(list.astring('entry'), true);
      changes.set(name, entryValue(list.next('entry value')));
    } while (!list.done);
    const scope = await metadataScope(s.storage!, mailbox, s.utf8Names);
    if (typeof scope !== 'string') return scope;
    try {
      await s.storage!.metadata().set(scope, [...changes]);
    } catch (err) {
      if (err instanceof MetadataLimitError) {
        return err.limit === 'MAXSIZE' ? no('Metadata value too large.', `METADATA MAXSIZE ${err.maxSize}`) : no('Too many metadata entries.', 'METADATA TOOMANY');
      }
      throw err;
    }
    return ok('Setmetadata completed.');
  },
};
