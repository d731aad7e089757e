// Special-use attributes of a user's mailboxes (RFC 6154), kept in a per-user file beside the store
// ("roost-special-use": "<\Use> TAB <name in modified UTF-7, levels TAB-separated>" per line), as Dovecot's
// autocreated namespace mailboxes carry them; the default set ensureDefaultMailboxes() creates.
import { readFile } from 'node:fs/promises';
import { writeFileDurable } from '../common/fsutil.js';
import { decodeMutf7, encodeMutf7 } from './names.js';
import { StorageError } from '../errors.js';

export const SPECIAL_USE_FILE = 'roost-special-use';
export const SPECIAL_USES = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash', '\\Important'] as const;

/** The mailboxes ensureDefaultMailboxes() creates, with their attribute. */
export const DEFAULT_MAILBOXES: ReadonlyArray<{ name: string; specialUse?: string }> = [
  { name: 'INBOX' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Archive', specialUse: '\\Archive' },
];

export function normalizeSpecialUse(use: string): string {
  const found = SPECIAL_USES.find((u) => u.toLowerCase() === use.toLowerCase());
  if (!found) throw new StorageError('BADNAME', 'Unknown special-use attribute');
  return found;
}

export async function readSpecialUse(path: string, separator: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return map;
    throw err;
  }
  for (const line of text.split('\n')) {
    const [use, ...parts] = line.split('\t');
    if (!use || parts.length === 0) continue;
    try {
      map.set(parts.map((p) => decodeMutf7(p)).join(separator), use);
    } catch {
      continue;
    }
  }
  return map;
}

export async function writeSpecialUse(path: string, map: ReadonlyMap<string, string>, separator: string, fsync: boolean): Promise<void> {
  const text = [...map].map(([name, use]) => `${use}\t${name.split(separator).map(encodeMutf7).join('\t')}\n`).join('');
  await writeFileDurable(path, text, { fsync });
}
