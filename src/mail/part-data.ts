// Per-part MIME data from Content-* headers (RFC 2045 5/6/7, RFC 2183, RFC 3066, RFC 2557, RFC 1864) and the
// envelope fields of RFC 3501 7.4.2, collected header by header as Dovecot's message-part-data.c does.
import { Rfc822Parser } from './rfc822-tokens.js';
import { parseMimeParams, type MimeParam } from './rfc2231.js';
import { parseAddressList, type MessageAddress } from './address.js';

/** One complete header field as the parser saw it. All strings are byte strings (latin1, one char per byte). */
export interface HeaderField {
  /** Name as written, without trailing whitespace before the colon ("" for a line without a colon). */
  name: string;
  /** Unfolded-as-Dovecot value: first line after the colon (leading LWSP skipped), continuation lines joined with "\n". */
  value: string;
}

export interface EnvelopeData {
  date: string | null;
  subject: string | null;
  from: MessageAddress[] | null;
  sender: MessageAddress[] | null;
  replyTo: MessageAddress[] | null;
  to: MessageAddress[] | null;
  cc: MessageAddress[] | null;
  bcc: MessageAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface PartData {
  /** Content type as written ("" when broken), null when there was no (MIME) Content-Type. */
  contentType: string | null;
  contentSubtype: string | null;
  contentTypeParams: MimeParam[];
  contentTransferEncoding: string | null;
  contentId: string | null;
  contentDescription: string | null;
  contentDisposition: string | null;
  contentDispositionParams: MimeParam[];
  contentMd5: string | null;
  contentLanguage: string[] | null;
  contentLocation: string | null;
  /** Envelope of a message/rfc822 part's enclosed message (set on the enclosed message's root part). */
  envelope: EnvelopeData | null;
}

export const emptyPartData = (): PartData => ({
  contentType: null,
  contentSubtype: null,
  contentTypeParams: [],
  contentTransferEncoding: null,
  contentId: null,
  contentDescription: null,
  contentDisposition: null,
  contentDispositionParams: [],
  contentMd5: null,
  contentLanguage: null,
  contentLocation: null,
  envelope: null,
});

export const emptyEnvelope = (): EnvelopeData => ({
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
});

/** message_header_strdup(): NULs are dropped. */
const headerStrdup = (value: string): string => (value.includes('\0') ? value.replace(/\0/g, '') : value);

function parseContentType(data: PartData, value: string): void {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const out = { s: '' };
  const ret = parser.parseContentType(out);
  const slash = out.s.indexOf('/');
  if (slash >= 0) {
    data.contentType = out.s.slice(0, slash);
    data.contentSubtype = out.s.slice(slash + 1);
  } else {
    data.contentType = out.s;
    data.contentSubtype = '';
  }
  if (ret < 0) return;
  data.contentTypeParams = parseMimeParams(parser);
}

function parseContentTransferEncoding(data: PartData, value: string): void {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const out = { s: '' };
  if (parser.parseMimeToken(out) >= 0 && parser.skipLwsp() === 0 && out.s.length > 0) data.contentTransferEncoding = out.s;
}

function parseContentDisposition(data: PartData, value: string): void {
  const parser = new Rfc822Parser(value);
  parser.skipLwsp();
  const out = { s: '' };
  if (parser.parseMimeToken(out) < 0) return;
  data.contentDisposition = out.s;
  data.contentDispositionParams = parseMimeParams(parser);
}

function parseContentLanguage(data: PartData, value: string): void {
  const parser = new Rfc822Parser(value);
  const langs: string[] = [];
  parser.skipLwsp();
  for (;;) {
    const out = { s: '' };
    if (parser.parseAtom(out) < 0) break;
    langs.push(out.s);
    if (parser.pos >= parser.end || parser.cur() !== 0x2c) break;
    parser.pos++;
    parser.skipLwsp();
  }
  if (langs.length > 0) data.contentLanguage = langs;
}

/** Applies one header field to a part's MIME data (only Content-* fields matter; first occurrence wins). */
export function applyContentHeader(data: PartData, field: HeaderField): void {
  const lower = field.name.toLowerCase();
  if (!lower.startsWith('content-')) return;
  const name = lower.slice(8);
  const value = field.value;
  switch (name) {
    case 'id':
      if (data.contentId === null) data.contentId = headerStrdup(value);
      break;
    case 'md5':
      if (data.contentMd5 === null) data.contentMd5 = headerStrdup(value);
      break;
    case 'type':
      if (data.contentType === null) parseContentType(data, value);
      break;
    case 'transfer-encoding':
      if (data.contentTransferEncoding === null) parseContentTransferEncoding(data, value);
      break;
    case 'language':
      if (data.contentLanguage === null) parseContentLanguage(data, value);
      break;
    case 'location':
      if (data.contentLocation === null) data.contentLocation = headerStrdup(value);
      break;
    case 'description':
      if (data.contentDescription === null) data.contentDescription = headerStrdup(value);
      break;
    case 'disposition':
      if (data.contentDispositionParams.length === 0) parseContentDisposition(data, value);
      break;
  }
}

type AddressField = 'from' | 'sender' | 'replyTo' | 'to' | 'cc' | 'bcc';
type StringField = 'date' | 'subject' | 'inReplyTo' | 'messageId';

const ENVELOPE_FIELDS: Record<string, AddressField | StringField> = {
  date: 'date',
  subject: 'subject',
  from: 'from',
  sender: 'sender',
  'reply-to': 'replyTo',
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  'in-reply-to': 'inReplyTo',
  'message-id': 'messageId',
};

const ADDRESS_FIELDS = new Set(['from', 'sender', 'replyTo', 'to', 'cc', 'bcc']);

/** Applies one header field to envelope data: address fields accumulate, string fields keep the last one. */
export function applyEnvelopeHeader(envelope: EnvelopeData, field: HeaderField): void {
  const key = ENVELOPE_FIELDS[field.name.toLowerCase()];
  if (key === undefined) return;
  if (ADDRESS_FIELDS.has(key)) {
    const parsed = parseAddressList(field.value, { fillMissing: true });
    const k = key as AddressField;
    if (envelope[k] === null) envelope[k] = parsed.length > 0 ? parsed : null;
    else envelope[k] = [...envelope[k]!, ...parsed];
  } else {
    envelope[key as StringField] = headerStrdup(field.value);
  }
}
