// The text SEARCH matches against (RFC 9051 section 6.4.4): decoded header fields (RFC 2047 words to UTF-8) and
// the decoded text of the body's text parts (transfer encoding and charset removed), case-folded, kept in the message cache.
import { decodeMimeWords, extractSearchText, parseHeaderBlock, type MessagePart } from '../../../mail/index.js';
import type { MailboxSession, MessageContent } from '../../../storage/api.js';
import { readRange } from '../fetch/body-sections.js';
import type { MessageLayout } from '../fetch/message-layout.js';

/** One top-level header field: lower-cased name, raw value (byte string), and its decoded, unfolded, lower-cased form. */
export interface SearchHeader {
  name: string;
  raw: string;
  decoded: string;
}

const HEADERS_KEY = 'imap.search.headers.v2';
const BODY_KEY = 'imap.search.body.v2';
const PART_HEADERS_KEY = 'imap.search.part-headers.v1';
/** Decoded body text up to this length is cached; longer text is decoded again when a search needs it. */
const BODY_CACHE_LIMIT = 256 * 1024;

/** Case folding for SEARCH's case-insensitive substring match (an approximation of i;unicode-casemap). */
export function foldCase(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

export async function loadSearchHeaders(mailbox: MailboxSession, uid: number, layout: MessageLayout, content: () => Promise<MessageContent>): Promise<SearchHeader[]> {
  const cached = mailbox.getCached(uid, HEADERS_KEY);
  if (Array.isArray(cached)) return cached as SearchHeader[];
  const root = layout.parsed.root;
  const block = await readRange(await content(), root.physicalPos, root.physicalPos + root.headerSize.physical);
  const headers = parseHeaderBlock(block).map((h) => ({ name: h.name.toLowerCase(), raw: h.value, decoded: foldCase(decodeMimeWords(h.value)) }));
  mailbox.setCached(uid, HEADERS_KEY, headers);
  return headers;
}

export async function loadSearchBody(mailbox: MailboxSession, uid: number, layout: MessageLayout, content: () => Promise<MessageContent>): Promise<string> {
  const cached = mailbox.getCached(uid, BODY_KEY);
  if (typeof cached === 'string') return cached;
  const text = foldCase(extractSearchText(await (await content()).read(), layout.parsed));
  if (text.length <= BODY_CACHE_LIMIT) mailbox.setCached(uid, BODY_KEY, text);
  return text;
}

/**
 * The decoded header blocks of every MIME part below the top level (Content-Type, Content-Disposition, the
 * header of an attached message, ...): TEXT matches them too, as Dovecot's TEXT searches the whole message.
 */
export async function loadSearchPartHeaders(mailbox: MailboxSession, uid: number, layout: MessageLayout, content: () => Promise<MessageContent>): Promise<string> {
  const cached = mailbox.getCached(uid, PART_HEADERS_KEY);
  if (typeof cached === 'string') return cached;
  const parts: MessagePart[] = [];
  const walk = (p: MessagePart) => {
    for (const c of p.children) {
      parts.push(c);
      walk(c);
    }
  };
  walk(layout.parsed.root);
  let text = '';
  if (parts.length) {
    const message = await content();
    for (const part of parts) {
      const block = await readRange(message, part.physicalPos, part.physicalPos + part.headerSize.physical);
      for (const h of parseHeaderBlock(block)) text += `${h.name}: ${decodeMimeWords(h.value)}\n`;
    }
  }
  text = foldCase(text);
  if (text.length <= BODY_CACHE_LIMIT) mailbox.setCached(uid, PART_HEADERS_KEY, text);
  return text;
}
