// CATENATE (RFC 4469 sections 5 and 6): builds the message of an APPEND from TEXT literals and URL parts naming the
// user's own messages (IMAP URLs, RFC 5092 sections 3 to 6: [imap://user@host]/mailbox[;UIDVALIDITY=n]/;UID=m
// [/;SECTION=s][/;PARTIAL=o[.l]]); a reference that cannot be used is NO [BADURL url], a result over the limit [TOOBIG].
import type { Readable } from 'node:stream';
import { isStorageError, type MailboxSession } from '../../../storage/api.js';
import { ArgCursor, tokenAstring } from '../proto/arg-cursor.js';
import { ProtocolError } from '../proto/protocol-error.js';
import { parseSection, type PartialRange, type SectionSpec } from '../proto/section.js';
import type { ImapToken, ListToken } from '../proto/tokens.js';
import { bodySection, type SectionData } from '../fetch/body-sections.js';
import { loadLayout } from '../fetch/message-layout.js';
import { no, type Completion, type ImapSessionApi } from '../types.js';

/** A parsed IMAP URL naming one message (or a section of it) of the logged-in user. */
export interface MessageUrl {
  mailbox: string;
  uidValidity?: number;
  uid: number;
  section?: SectionSpec;
  partial?: PartialRange;
}

const PATH_RE = /^\/(.+?)(?:;UIDVALIDITY=([1-9][0-9]{0,9}))?\/;UID=([1-9][0-9]{0,9})(?:\/;SECTION=([^/]+))?(?:\/;PARTIAL=([0-9]{1,10})(?:\.([1-9][0-9]{0,9}))?)?$/i;

function percentDecode(text: string): string {
  // decodeURIComponent throws on malformed escapes and on bytes that are not UTF-8 (RFC 5092 section 3.4: UTF-8 names).
  return decodeURIComponent(text);
}

/** "HEADER.FIELDS (FROM TO)" (already percent-decoded) as the tokens parseSection reads. */
function sectionTokens(text: string): ImapToken[] {
  const m = /^([^ ()]+)(?: \(([^()]*)\))?$/.exec(text);
  if (!m) throw new ProtocolError('Invalid section');
  const items: ImapToken[] = [{ type: 'atom', value: m[1]! }];
  if (m[2] !== undefined) items.push({ type: 'list', items: m[2].split(' ').filter((f) => f !== '').map((value) => ({ type: 'atom', value })) });
  return items;
}

/**
 * Parses an absolute IMAP URL or an absolute path (RFC 5092 section 7: relative to the server) into a message
 * reference; undefined when it is not one Roost can follow for `user` (another user, URLAUTH, no UID, bad syntax).
 */
export function parseMessageUrl(url: string, user: string): MessageUrl | undefined {
  let path = url;
  const abs = /^imap:\/\/(?:([^@/;]*)(?:;AUTH=[^@/]*)?@)?[^/@]+(\/.*)$/i.exec(url);
  if (abs) {
    if (abs[1] !== undefined) {
      try {
        if (percentDecode(abs[1]) !== user) return undefined;
      } catch {
        return undefined;
      }
    }
    path = abs[2]!;
  }
  if (/;URLAUTH=/i.test(path) || path.includes('?')) return undefined;
  const m = PATH_RE.exec(path);
  if (!m) return undefined;
  try {
    const ref: MessageUrl = { mailbox: percentDecode(m[1]!), uid: Number(m[3]) };
    if (m[2]) ref.uidValidity = Number(m[2]);
    if (m[4]) ref.section = parseSection(sectionTokens(percentDecode(m[4])));
    if (m[5]) ref.partial = { offset: Number(m[5]), length: m[6] ? Number(m[6]) : Number.MAX_SAFE_INTEGER };
    if (ref.mailbox.toUpperCase() === 'INBOX') ref.mailbox = 'INBOX';
    return ref;
  } catch {
    return undefined;
  }
}

async function sectionBytes(data: SectionData): Promise<Buffer> {
  if (Buffer.isBuffer(data.data)) return data.data;
  const pieces: Buffer[] = [];
  for await (const chunk of data.data() as Readable) pieces.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer));
  return Buffer.concat(pieces);
}

/** Why a URL part could not be used: the tagged NO the APPEND ends with (RFC 4469 section 6, BADURL). */
function badUrl(url: string): Completion {
  // url-resp-text (RFC 4469 section 6) has no "]", CR or LF.
  return no('Unable to use the URL.', `BADURL ${url.replace(/[\]\r\n]/g, '')}`);
}

type Part = { text: Buffer } | { url: string };

function parseParts(list: ListToken): Part[] {
  const cursor = new ArgCursor(list.items);
  const parts: Part[] = [];
  while (!cursor.done) {
    const kind = cursor.keyword('CATENATE part');
    if (kind === 'TEXT') {
      const t = cursor.next('TEXT literal');
      if (t.type !== 'literal') throw new ProtocolError('Invalid CATENATE TEXT: expected a literal');
      if (t.value.includes(0)) throw new ProtocolError('NUL in CATENATE TEXT');
      parts.push({ text: t.value });
    } else if (kind === 'URL') {
      parts.push({ url: tokenAstring(cursor.next('URL'), 'URL') });
    } else {
      throw new ProtocolError(`Unknown CATENATE part ${kind.slice(0, 20)}`);
    }
  }
  return parts;
}

/**
 * The message a CATENATE list makes, or the completion that refuses it. Mailboxes named by URLs are opened read-only
 * (no \Recent taken, no \Seen set) and closed again; `limit` is the APPENDLIMIT (RFC 4469 section 5: TOOBIG).
 */
export async function buildCatenated(s: ImapSessionApi, list: ListToken, limit: number): Promise<{ data: Buffer } | { fail: Completion }> {
  const parts = parseParts(list);
  const user = s.user!.user;
  const boxes = new Map<string, MailboxSession>();
  const pieces: Buffer[] = [];
  let total = 0;
  try {
    for (const part of parts) {
      let bytes: Buffer;
      if ('text' in part) {
        bytes = part.text;
      } else {
        const ref = parseMessageUrl(part.url, user);
        if (!ref) return { fail: badUrl(part.url) };
        let box = boxes.get(ref.mailbox);
        if (!box) {
          try {
            box = await s.storage!.openMailbox(ref.mailbox, { readOnly: true });
          } catch (err) {
            if (isStorageError(err)) return { fail: badUrl(part.url) };
            throw err;
          }
          boxes.set(ref.mailbox, box);
        }
        if ((ref.uidValidity !== undefined && ref.uidValidity !== box.uidValidity) || box.seqOf(ref.uid) === undefined) return { fail: badUrl(part.url) };
        try {
          const content = await box.openMessage(ref.uid);
          if (ref.section || ref.partial) {
            const layout = await loadLayout(box, ref.uid, content);
            bytes = await sectionBytes(await bodySection(layout, content, ref.section ?? { part: [] }, ref.partial));
          } else {
            bytes = await content.read();
          }
        } catch (err) {
          if (isStorageError(err, 'EXPUNGED')) return { fail: badUrl(part.url) };
          throw err;
        }
      }
      total += bytes.length;
      if (total > limit) return { fail: no('Message is too large.', 'TOOBIG') };
      pieces.push(bytes);
    }
  } finally {
    for (const box of boxes.values()) await box.close().catch(() => undefined);
  }
  return { data: Buffer.concat(pieces, total) };
}
