// Mailbox names: UTF-8 in the API, modified UTF-7 on disk (RFC 3501 5.1.3, as Dovecot with mailbox_list_utf8=no),
// and the checks that refuse names which could escape the mail root or collide with store files.
import iconv from 'iconv-lite';
import { StorageError } from '../errors.js';

export const MAX_MAILBOX_NAME_BYTES = 255 * 2;
export const MAX_COMPONENT_BYTES = 200;
export const MAX_HIERARCHY_DEPTH = 16;

export function encodeMutf7(name: string): string {
  return iconv.encode(name, 'utf7imap').toString('latin1');
}

/** Decodes a modified UTF-7 name; refuses non-canonical encodings (decode, re-encode, compare). */
export function decodeMutf7(onDisk: string): string {
  const decoded = iconv.decode(Buffer.from(onDisk, 'latin1'), 'utf7imap');
  if (encodeMutf7(decoded) !== onDisk) throw new StorageError('BADNAME', 'Invalid modified UTF-7 mailbox name');
  return decoded;
}

/** Canonical form of a mailbox name: 'INBOX' case-insensitively for the inbox (RFC 9051 5.1). */
export function canonicalName(name: string, separator: string): string {
  if (name.toUpperCase() === 'INBOX') return 'INBOX';
  const prefix = name.slice(0, 6);
  if (prefix.toUpperCase() === 'INBOX' + separator) return 'INBOX' + name.slice(5);
  return name;
}

/** Words the layout reserves at a level (store files that could be mistaken for mailboxes). */
const RESERVED_COMPONENTS = new Set(['cur', 'new', 'tmp']);

/**
 * Splits a UTF-8 mailbox name into components and refuses anything that could escape the mail root or
 * is not a valid name: empty components, '.' / '..', '/' (the file-system separator), a leading '.', NUL and
 * control characters, '~' at the start, overlong names, too deep hierarchies.
 */
export function validateMailboxName(name: string, separator: string, opts: { fsLayout: boolean }): string[] {
  if (name.length === 0) throw new StorageError('BADNAME', 'Empty mailbox name');
  if (Buffer.byteLength(name, 'utf8') > MAX_MAILBOX_NAME_BYTES) throw new StorageError('BADNAME', 'Mailbox name too long');
  if (/[\x00-\x1f\x7f]/.test(name)) throw new StorageError('BADNAME', 'Mailbox name contains control characters');
  if (/[*%]/.test(name)) throw new StorageError('BADNAME', 'Mailbox name contains wildcards');
  if (name.startsWith('~')) throw new StorageError('BADNAME', 'Mailbox name may not start with ~');
  const parts = name.split(separator);
  if (parts.length > MAX_HIERARCHY_DEPTH) throw new StorageError('BADNAME', 'Mailbox hierarchy too deep');
  for (const [i, part] of parts.entries()) {
    if (part.length === 0) throw new StorageError('BADNAME', 'Mailbox name has an empty component');
    if (part === '.' || part === '..') throw new StorageError('BADNAME', 'Mailbox name may not contain . or ..');
    if (part.includes('/')) throw new StorageError('BADNAME', 'Mailbox name may not contain /');
    if (part.startsWith('.')) throw new StorageError('BADNAME', 'Mailbox name component may not start with .');
    if (Buffer.byteLength(encodeMutf7(part), 'latin1') > MAX_COMPONENT_BYTES) throw new StorageError('BADNAME', 'Mailbox name component too long');
    if (opts.fsLayout && i === 0 && RESERVED_COMPONENTS.has(part)) throw new StorageError('BADNAME', 'Mailbox name is reserved');
    if (opts.fsLayout && RESERVED_COMPONENTS.has(part) && i > 0) throw new StorageError('BADNAME', 'Mailbox name is reserved');
  }
  return parts;
}
