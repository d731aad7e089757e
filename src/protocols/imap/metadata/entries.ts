// METADATA entry names and values on the wire (RFC 5464 sections 3.2, 4.2 and 5): validation of entry names
// (/private or /shared, no "*", "%", "//" or trailing "/"), the mailbox scope, and the METADATA response.
import { isStorageError, SERVER_SCOPE, type UserStorage } from '../../../storage/api.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { formatMailbox } from '../proto/response.js';
import { no, type Completion } from '../types.js';

/**
 * Checks an entry name and returns it lower-cased (entry names are case-insensitive, RFC 5464 section 3.2).
 * `forSet`: a value can only live below /private/ or /shared/, not on those two roots themselves.
 */
export function checkEntryName(raw: string, forSet: boolean): string {
  const name = raw.toLowerCase();
  if (!/^\/(private|shared)(\/|$)/.test(name)) throw new ProtocolError('Entry name must begin with /private or /shared');
  if (/[*%]/.test(name)) throw new ProtocolError('Entry name must not contain "*" or "%"');
  if (name.includes('//')) throw new ProtocolError('Entry name must not contain "//"');
  if (name.endsWith('/')) throw new ProtocolError('Entry name must not end with "/"');
  if (/[^\x21-\x7e]/.test(name)) throw new ProtocolError('Entry name must be printable ASCII');
  if (forSet && /^\/(private|shared)$/.test(name)) throw new ProtocolError('Entry name must name an entry below /private or /shared');
  return name;
}

/** The mailbox an annotation command is about: '' for the server, else an existing mailbox (canonical INBOX). */
export async function metadataScope(storage: UserStorage, mailbox: string, utf8: boolean): Promise<string | Completion> {
  if (mailbox === SERVER_SCOPE) return SERVER_SCOPE;
  const name = mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : mailbox;
  try {
    await storage.status(name);
  } catch (err) {
    // As Dovecot: a plain NO without a response code.
    if (isStorageError(err, 'NOTFOUND')) return no(`Mailbox doesn't exist: ${formatMailbox(mailbox, { utf8 })}`);
    throw err;
  }
  return name;
}

/** An entry's value as a literal (as Dovecot sends them), literal8 when it holds NUL (RFC 5464 section 5). */
function valueBytes(value: Buffer | null): Buffer {
  if (value === null) return Buffer.from('NIL');
  const binary = value.includes(0);
  return Buffer.concat([Buffer.from(`${binary ? '~' : ''}{${value.length}}\r\n`), value]);
}

/** "* METADATA <mailbox> (<entry> <value> ...)" as bytes. */
export function metadataResponse(mailbox: string, entries: ReadonlyArray<readonly [string, Buffer | null]>, utf8: boolean): Buffer {
  const parts: Buffer[] = [Buffer.from(`* METADATA ${formatMailbox(mailbox, { utf8 })} (`)];
  entries.forEach(([name, value], i) => {
    parts.push(Buffer.from(`${i ? ' ' : ''}${name} `), valueBytes(value));
  });
  parts.push(Buffer.from(')\r\n'));
  return Buffer.concat(parts);
}
