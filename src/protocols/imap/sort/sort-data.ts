// What SORT and THREAD need of one message (RFC 5256 sections 3 and 4, RFC 5957 DISPLAYFROM/DISPLAYTO): sort keys
// and thread links from the header, computed once and kept in the index's per-message cache, so that a mailbox of
// 100,000 messages sorts and threads again without reading or parsing any message.
import { decodeMimeWords, getFirstHeader, parseAddressList, parseHeaderBlock, parseSentDate } from '../../../mail/index.js';
import type { MailboxSession, MessageContent, MessageMeta } from '../../../storage/api.js';
import { baseSubjectCased, messageIds, titlecase } from './collate.js';

export interface SortData {
  /** Base subject, titlecased (RFC 5256 section 2.1); '' without a Subject field. */
  subject: string;
  /** The subject had Re:, Fwd: or similar (THREAD=REFERENCES step 5). */
  replyOrForward: boolean;
  /** The message has a Subject field at all (THREAD=REFERENCES step 5.B skips messages without one). */
  hasSubject: boolean;
  /** First mailbox (local part) of From, To, Cc, titlecased (RFC 5256 section 3). */
  from: string;
  to: string;
  cc: string;
  /** Display name of the first From / To address, else its addr-spec, titlecased (RFC 5957 section 3). */
  displayFrom: string;
  displayTo: string;
  /** The Date field as seconds since the epoch; null when missing or unparseable (then INTERNALDATE counts). */
  sentDate: number | null;
  /** The first message ID of Message-ID, or null. */
  messageId: string | null;
  /** References' IDs, or In-Reply-To's first when References has none (RFC 5256 section 4, REFERENCES step 1). */
  references: string[];
}

/**
 * The index's per-message cache entry: SortData as an array in field order (an array decodes without the record
 * definition every cached object carries). v1 was an object with the same fields; its entries are ignored.
 */
export const SORT_CACHE_KEY = 'imap.sort.v2';

type Packed = [string, number, string, string, string, string, string, number | null, string | null, string[]];

const REPLY_OR_FORWARD = 1;
const HAS_SUBJECT = 2;

export function packSortData(d: SortData): Packed {
  const flags = (d.replyOrForward ? REPLY_OR_FORWARD : 0) | (d.hasSubject ? HAS_SUBJECT : 0);
  return [d.subject, flags, d.from, d.to, d.cc, d.displayFrom, d.displayTo, d.sentDate, d.messageId, d.references];
}

export function unpackSortData(v: unknown): SortData | undefined {
  if (!Array.isArray(v) || v.length !== 10 || typeof v[0] !== 'string' || typeof v[1] !== 'number' || !Array.isArray(v[9])) return undefined;
  const p = v as Packed;
  return {
    subject: p[0],
    replyOrForward: (p[1] & REPLY_OR_FORWARD) !== 0,
    hasSubject: (p[1] & HAS_SUBJECT) !== 0,
    from: p[2],
    to: p[3],
    cc: p[4],
    displayFrom: p[5],
    displayTo: p[6],
    sentDate: p[7],
    messageId: p[8],
    references: p[9],
  };
}

/** Messages up to this size are read whole for their header. */
const WHOLE_READ_MAX = 128 * 1024;

/** The header block (up to the empty line) without reading the body of a large message. */
async function readHeader(content: MessageContent): Promise<Buffer> {
  // A small message comes whole (backends read it at once anyway), without a stream around it.
  if (content.size <= WHOLE_READ_MAX) {
    const all = await content.read();
    return headerOf(all) ?? all;
  }
  const chunks: Buffer[] = [];
  let length = 0;
  const stream = content.stream();
  try {
    for await (const chunk of stream) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer);
      chunks.push(b);
      length += b.length;
      const header = headerOf(chunks.length === 1 ? b : Buffer.concat(chunks, length));
      if (header) return header;
    }
  } finally {
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
  return Buffer.concat(chunks, length);
}

/** Up to and with the empty line; a message that starts with CRLF has an empty header, when no CRLFCRLF comes. */
function headerOf(all: Buffer): Buffer | undefined {
  const end = all.indexOf('\r\n\r\n');
  if (end >= 0 || (all[0] === 13 && all[1] === 10)) return all.subarray(0, end >= 0 ? end + 4 : 2);
  return undefined;
}

const utf8 = (latin1: string): string => Buffer.from(latin1, 'latin1').toString('utf8');

/** The first address of a field, parsed after RFC 2047 decoding as Dovecot's sort does (groups count: their name). */
function firstAddress(raw: string | null): { mailbox: string | null; domain: string | null; name: string | null } | undefined {
  if (raw === null) return undefined;
  const decoded = Buffer.from(decodeMimeWords(raw), 'utf8').toString('latin1');
  const first = parseAddressList(decoded, { fillMissing: true, max: 1 })[0];
  if (!first) return undefined;
  return {
    mailbox: first.mailbox === null ? null : utf8(first.mailbox),
    domain: first.domain === null ? null : utf8(first.domain),
    name: first.name === null ? null : utf8(first.name),
  };
}

type Address = ReturnType<typeof firstAddress>;

function mailboxKey(a: Address): string {
  return titlecase(a?.mailbox ?? '');
}

function displayKey(a: Address): string {
  if (!a) return '';
  if (a.name !== null && a.name !== '') return titlecase(a.name);
  if (a.mailbox !== null && a.domain !== null) return titlecase(`${a.mailbox}@${a.domain}`);
  return titlecase(a.mailbox ?? '');
}

export function sortDataFromHeader(block: Buffer): SortData {
  const headers = parseHeaderBlock(block);
  const first = (name: string) => getFirstHeader(headers, name);
  const subjectRaw = first('Subject');
  const base = baseSubjectCased(subjectRaw === null ? '' : decodeMimeWords(subjectRaw));
  const date = parseSentDate(first('Date'));
  const refs = messageIds(first('References'));
  const from = firstAddress(first('From'));
  const to = firstAddress(first('To'));
  return {
    subject: base.subject,
    replyOrForward: base.replyOrForward,
    hasSubject: subjectRaw !== null,
    from: mailboxKey(from),
    to: mailboxKey(to),
    cc: mailboxKey(firstAddress(first('Cc'))),
    displayFrom: displayKey(from),
    displayTo: displayKey(to),
    sentDate: date === null ? null : Math.floor(date.getTime() / 1000),
    messageId: messageIds(first('Message-ID'))[0] ?? null,
    references: refs.length ? refs : messageIds(first('In-Reply-To')).slice(0, 1),
  };
}

/** The message's sort data from the index's cache, if it is there (no I/O beyond the index). */
export function cachedSortData(mailbox: MailboxSession, uid: number): SortData | undefined {
  return unpackSortData(mailbox.getCached(uid, SORT_CACHE_KEY));
}

/** The message's sort data from its header (the caller caches it: a message never changes). */
export async function parseSortData(mailbox: MailboxSession, msg: MessageMeta): Promise<SortData> {
  return sortDataFromHeader(await readHeader(await mailbox.openMessage(msg.uid)));
}

/** RFC 5256 section 3 DATE: the sent date, or INTERNALDATE when there is none (seconds, as Dovecot compares). */
export function sortDate(data: SortData, msg: MessageMeta): number {
  return data.sentDate !== null && data.sentDate !== 0 ? data.sentDate : Math.floor(msg.internalDate / 1000);
}
