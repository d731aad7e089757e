// GETMETADATA (RFC 5464 section 4.2): entries of the server ("") or of a mailbox, with the MAXSIZE and DEPTH
// options; entries over MAXSIZE are left out and the largest one's size is given as [METADATA LONGENTRIES n].
import { ArgCursor } from '../proto/arg-cursor.js';
import { parseMailboxName } from '../proto/mailbox-name.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { ok, type ImapCommandSpec } from '../types.js';
import { checkEntryName, metadataResponse, metadataScope } from '../metadata/entries.js';

type Depth = 0 | 1 | 'infinity';

function parseOptions(list: ArgCursor): { maxSize?: number; depth: Depth } {
  let maxSize: number | undefined;
  let depth: Depth = 0;
  while (!list.done) {
    const name = list.keyword('GETMETADATA option');
    if (name === 'MAXSIZE') maxSize = list.number('MAXSIZE');
    else if (name === 'DEPTH') {
      const d = list.keyword('DEPTH');
      if (d === '0') depth = 0;
      else if (d === '1') depth = 1;
      else if (d === 'INFINITY') depth = 'infinity';
      else throw new ProtocolError('Invalid DEPTH');
    } else throw new ProtocolError(`Unknown GETMETADATA option: ${name}`);
  }
  return { maxSize, depth };
}

/** Whether stored entry `name` is `wanted` itself or a descendant within `depth` levels. */
function within(name: string, wanted: string, depth: Depth): boolean {
  if (name === wanted) return true;
  if (depth === 0 || !name.startsWith(wanted + '/')) return false;
  return depth === 'infinity' || !name.slice(wanted.length + 1).includes('/');
}

export const getmetadataCommand: ImapCommandSpec = {
  name: 'GETMETADATA',
  states: ['authenticated', 'selected'],
  capabilities: () => ['METADATA', 'METADATA-SERVER'],
  async run(s, cmd) {
    const args = new ArgCursor(cmd.args);
    const options = args.peek()?.type === 'list' ? parseOptions(args.list('options')) : { depth: 0 as Depth };
    const mailbox = parseMailboxName(args.next('mailbox'), { utf8: s.utf8Names });
    const requested: string[] = [];
    if (args.peek()?.type === 'list') {
      const list = args.list('entries');
      do requested.push(list.astring('entry'));
      while (!list.done);
    } else requested.push(args.astring('entry'));
    args.end();
    const wanted = requested.map((e) => [e, checkEntryName(e, false)] as const);
    const scope = await metadataScope(s.storage!, mailbox, s.utf8Names);
    if (typeof scope !== 'string') return scope;
    const stored = await s.storage!.metadata().entries(scope);
    const out: [string, Buffer | null][] = [];
    const seen = new Set<string>();
    let longest = 0;
    const add = (name: string, value: Buffer | null) => {
      if (seen.has(name.toLowerCase())) return;
      seen.add(name.toLowerCase());
      if (value && options.maxSize !== undefined && value.length > options.maxSize) longest = Math.max(longest, value.length);
      else out.push([name, value]);
    };
    for (const [asked, name] of wanted) {
      const own = stored.get(name);
      // A missing entry is reported as NIL when asked for by itself, as Dovecot does.
      if (own !== undefined || options.depth === 0) add(asked, own ?? null);
      if (options.depth !== 0) for (const [n, v] of stored) if (n !== name && within(n, name, options.depth)) add(n, v);
    }
    if (out.length) s.write(metadataResponse(mailbox === '' ? '' : scope, out, s.utf8Names));
    return ok('Getmetadata completed.', longest ? `METADATA LONGENTRIES ${longest}` : undefined);
  },
};
