// FETCH PREVIEW (RFC 8970 sections 3.1 and 4): up to 200 characters of the message's decoded text with whitespace
// collapsed, kept in the index's per-message cache; PREVIEW (LAZY) answers NIL only when making one would be costly.
import { extractSearchText } from '../../../mail/index.js';
import type { MailboxSession, MessageContent } from '../../../storage/api.js';
import type { MessageLayout } from './message-layout.js';

const PREVIEW_KEY = 'imap.preview.v1';
/** RFC 8970 section 3.1 allows at most 256 characters; Roost gives 200. */
export const PREVIEW_MAX_CHARS = 200;
/** PREVIEW (LAZY) makes a preview it has not cached only for messages up to this size (RFC 8970 section 3.1). */
export const LAZY_PREVIEW_MAX_BYTES = 64 * 1024;

/** Whitespace runs (controls included) become one space; at most PREVIEW_MAX_CHARS characters (code points). */
export function previewOf(text: string): string {
  const flat = text.replace(/[\s\u0000-\u001f\u007f-\u009f\u200b\ufeff]+/gu, ' ').trim();
  const chars = Array.from(flat);
  return chars.length <= PREVIEW_MAX_CHARS ? flat : chars.slice(0, PREVIEW_MAX_CHARS).join('').trimEnd();
}

/** The cached preview of a message, if any. */
export function cachedPreview(mailbox: MailboxSession, uid: number): string | undefined {
  const cached = mailbox.getCached(uid, PREVIEW_KEY);
  return typeof cached === 'string' ? cached : undefined;
}

export async function loadPreview(mailbox: MailboxSession, uid: number, layout: MessageLayout, content: () => Promise<MessageContent>): Promise<string> {
  const cached = cachedPreview(mailbox, uid);
  if (cached !== undefined) return cached;
  const preview = previewOf(extractSearchText(await (await content()).read(), layout.parsed));
  mailbox.setCached(uid, PREVIEW_KEY, preview);
  return preview;
}

/**
 * "PREVIEW <nstring>" as a latin1 byte string for the FETCH writer: quoted when it is ASCII, or UTF-8 once UTF8=ACCEPT
 * is on (RFC 6855 section 3); otherwise a literal holding the UTF-8 bytes.
 */
export function formatPreview(preview: string | undefined, utf8: boolean): string {
  if (preview === undefined) return 'PREVIEW NIL';
  const bytes = Buffer.from(preview, 'utf8');
  const quoted = `"${preview.replace(/["\\]/g, (c) => '\\' + c)}"`;
  if (/^[\x20-\x7e]*$/.test(preview)) return `PREVIEW ${quoted}`;
  if (utf8) return `PREVIEW ${Buffer.from(quoted, 'utf8').toString('latin1')}`;
  return `PREVIEW {${bytes.length}}\r\n${bytes.toString('latin1')}`;
}
