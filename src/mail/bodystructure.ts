// IMAP BODY and BODYSTRUCTURE (RFC 3501 7.4.2 / RFC 9051 7.5.2) written exactly as Dovecot's imap-bodystructure.c:
// default "text" "plain" ("charset" "us-ascii"), types as written, virtual sizes, line counts, extension data.
import { imapNStringNoLf, imapString } from './imap-quote.js';
import { writeEnvelopeFields } from './envelope.js';
import type { MessagePart } from './message-parser.js';
import type { MimeParam } from './rfc2231.js';
import type { PartData } from './part-data.js';

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';

function writeParams(params: MimeParam[], defaultCharset: boolean): string {
  if (!defaultCharset && params.length === 0) return 'NIL';
  const items: string[] = [];
  let seenCharset = false;
  for (const p of params) {
    if (defaultCharset && p.name.toLowerCase() === 'charset') seenCharset = true;
    items.push(`${imapString(p.name)} ${imapString(p.value)}`);
  }
  if (defaultCharset && !seenCharset) items.push('"charset" "us-ascii"');
  return `(${items.join(' ')})`;
}

function writeCommonExtension(data: PartData): string {
  let out = ' ';
  out += data.contentDisposition === null ? 'NIL' : `(${imapString(data.contentDisposition)} ${writeParams(data.contentDispositionParams, false)})`;
  out += ' ';
  out += data.contentLanguage === null ? 'NIL' : `(${data.contentLanguage.map(imapString).join(' ')})`;
  out += ' ' + imapNStringNoLf(data.contentLocation);
  return out;
}

function isTruncated(part: MessagePart): boolean {
  const data = part.data;
  if (data.contentType !== null) {
    const type = data.contentType.toLowerCase();
    if (type === 'message' && (data.contentSubtype ?? '').toLowerCase() === 'rfc822') return true;
    if (type === 'multipart') return true;
    return false;
  }
  return part.parent !== null && part.parent.multipartDigest;
}

function writeMultipart(part: MessagePart, extended: boolean): string {
  const data = part.data;
  let out = '';
  if (part.children.length > 0) out += part.children.map((c) => `(${writePart(c, extended)})`).join('');
  else out += extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY;
  out += ' ' + imapString(data.contentSubtype ?? '');
  if (!extended) return out;
  out += ' ' + writeParams(data.contentTypeParams, false);
  return out + writeCommonExtension(data);
}

function writeSinglePart(part: MessagePart, extended: boolean): string {
  const data = part.data;
  let text: boolean;
  let out: string;
  if (part.messageRfc822) {
    out = '"message" "rfc822"';
    text = false;
  } else if (isTruncated(part)) {
    out = '"application" "octet-stream"';
    text = false;
  } else if (data.contentType === null) {
    text = true;
    out = '"text" "plain"';
  } else {
    text = data.contentType.toLowerCase() === 'text';
    out = `${imapString(data.contentType)} ${imapString(data.contentSubtype ?? '')}`;
  }
  out += ' ' + writeParams(data.contentTypeParams, text);
  out += ' ' + imapNStringNoLf(data.contentId);
  out += ' ' + imapNStringNoLf(data.contentDescription);
  out += ' ' + (data.contentTransferEncoding !== null ? imapString(data.contentTransferEncoding) : '"7bit"');
  out += ` ${part.bodySize.virtual}`;
  if (text) {
    out += ` ${part.bodySize.lines}`;
  } else if (part.messageRfc822) {
    const child = part.children[0]!;
    out += ` (${writeEnvelopeFields(child.data.envelope)}) (${writePart(child, extended)}) ${part.bodySize.lines}`;
  }
  if (!extended) return out;
  out += ' ' + imapNStringNoLf(data.contentMd5);
  return out + writeCommonExtension(data);
}

function writePart(part: MessagePart, extended: boolean): string {
  return part.multipart ? writeMultipart(part, extended) : writeSinglePart(part, extended);
}

/** FETCH BODYSTRUCTURE value (with the outer parentheses), as a byte string (latin1). */
export function writeBodyStructure(part: MessagePart): string {
  return `(${writePart(part, true)})`;
}

/** FETCH BODY value (non-extensible form), as a byte string (latin1). */
export function writeBody(part: MessagePart): string {
  return `(${writePart(part, false)})`;
}
