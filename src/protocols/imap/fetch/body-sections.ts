// The bytes of BODY[section]<partial>, RFC822*, BINARY[section]<partial> and BINARY.SIZE (RFC 9051 section
// 6.4.5, RFC 3516) for one message: ranges of the stored message streamed as they are, filtered headers and
// decoded parts built with src/mail. NULs become 0x80 outside BINARY, as Dovecot sends them.
import { Transform, type Readable } from 'node:stream';
import { binarySize, fetchBinary, fetchSection, sectionRange, BinaryDecodeError, type SectionKind, type SectionSpec as MailSectionSpec } from '../../../mail/index.js';
import type { MailboxSession, MessageContent } from '../../../storage/api.js';
import type { PartialRange, SectionSpec } from '../proto/section.js';
import { ProtocolError } from '../proto/protocol-error.js';
import type { MessageLayout } from './message-layout.js';

/** A literal's contents: in memory, or a stream of exactly `size` bytes opened when it is written. */
export interface SectionData {
  size: number;
  data: Buffer | (() => Readable);
  /** BINARY content with NUL bytes goes out as literal8 ("~{n}", RFC 3516 section 4.3). */
  literal8: boolean;
}

const KIND: Record<string, SectionKind> = {
  HEADER: 'header',
  'HEADER.FIELDS': 'headerFields',
  'HEADER.FIELDS.NOT': 'headerFieldsNot',
  TEXT: 'text',
  MIME: 'mime',
};

export function toMailSection(spec: SectionSpec): MailSectionSpec {
  const part = spec.part.join('.');
  const kind: SectionKind = spec.text ? KIND[spec.text]! : part === '' ? 'full' : 'mimeBody';
  return { part, kind, fields: (spec.fields ?? []).map((f) => f.toUpperCase()) };
}

function applyPartial(size: number, partial: PartialRange | undefined): { offset: number; length: number } {
  if (!partial) return { offset: 0, length: size };
  if (partial.offset >= size) return { offset: 0, length: 0 };
  return { offset: partial.offset, length: Math.min(partial.length, size - partial.offset) };
}

function sliceBuffer(data: Buffer, partial: PartialRange | undefined): Buffer {
  const { offset, length } = applyPartial(data.length, partial);
  return data.subarray(offset, offset + length);
}

/** Replaces NUL with 0x80 (IMAP literals must not hold NULs, RFC 9051 section 4.3). */
function nulsTo0x80(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (chunk.indexOf(0) < 0) return done(null, chunk);
      const copy = Buffer.from(chunk);
      for (let i = copy.indexOf(0); i >= 0; i = copy.indexOf(0, i + 1)) copy[i] = 0x80;
      done(null, copy);
    },
  });
}

/** Reads [start, end) of the message into memory (headers, small ranges). */
export async function readRange(content: MessageContent, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  const pieces: Buffer[] = [];
  for await (const chunk of content.stream(start, end)) pieces.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer));
  return Buffer.concat(pieces);
}

function streamRange(content: MessageContent, start: number, length: number, convertNuls: boolean): SectionData {
  if (length === 0) return { size: 0, data: Buffer.alloc(0), literal8: false };
  return {
    size: length,
    literal8: false,
    data: () => {
      const raw = content.stream(start, start + length) as Readable;
      return convertNuls ? raw.pipe(nulsTo0x80()) : raw;
    },
  };
}

/** BODY[section]<partial> (and RFC822, RFC822.HEADER, RFC822.TEXT, which are sections too). */
export async function bodySection(layout: MessageLayout, content: MessageContent, spec: SectionSpec, partial?: PartialRange): Promise<SectionData> {
  const mailSpec = toMailSection(spec);
  const resolved = sectionRange(layout.parsed, mailSpec);
  if (resolved === null) return { size: 0, data: Buffer.alloc(0), literal8: false };
  if (mailSpec.kind === 'headerFields' || mailSpec.kind === 'headerFieldsNot') {
    // The header block is small; fetchSection indexes the message from its start, so read up to its end.
    const prefix = await readRange(content, 0, resolved.range.end);
    const data = sliceBuffer(fetchSection(prefix, layout.parsed, mailSpec), partial);
    return { size: data.length, data, literal8: false };
  }
  const { start, end } = resolved.range;
  const { offset, length } = applyPartial(end - start, partial);
  return streamRange(content, start + offset, length, layout.hasNuls);
}

/** The whole top-level BODY[HEADER] as bytes, exactly as bodySection would send it (for the header cache). */
export async function headerBytes(layout: MessageLayout, content: MessageContent): Promise<Buffer> {
  const data = await bodySection(layout, content, { part: [], text: 'HEADER' });
  if (Buffer.isBuffer(data.data)) return data.data;
  const pieces: Buffer[] = [];
  for await (const chunk of data.data()) pieces.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer));
  return Buffer.concat(pieces);
}

/** BODY[HEADER]<partial> of the top level from its whole bytes (as bodySection slices the same range). */
export function headerSection(header: Buffer, partial?: PartialRange): SectionData {
  const data = sliceBuffer(header, partial);
  return { size: data.length, data, literal8: false };
}

function binaryFailure(err: unknown): never {
  if (err instanceof BinaryDecodeError) {
    if (err.code === 'UNKNOWN-CTE') throw new ProtocolError('Unknown Content-Transfer-Encoding.', { kind: 'NO', code: 'UNKNOWN-CTE' });
    throw new ProtocolError('Invalid data in MIME part.', { kind: 'NO', code: 'PARSE' });
  }
  throw err;
}

/** BINARY[part]<partial>: the part with its transfer encoding removed (RFC 3516 section 4.2). */
export async function binarySection(layout: MessageLayout, content: MessageContent, part: readonly number[], partial?: PartialRange): Promise<SectionData> {
  let decoded: Buffer;
  try {
    decoded = fetchBinary(await content.read(), layout.parsed, part.join('.'));
  } catch (err) {
    binaryFailure(err);
  }
  const data = sliceBuffer(decoded, partial);
  return { size: data.length, data, literal8: data.indexOf(0) >= 0 };
}

/** BINARY.SIZE[part] (RFC 3516 section 4.2), remembered in the message cache. */
export async function binarySectionSize(mailbox: MailboxSession, uid: number, layout: MessageLayout, content: MessageContent, part: readonly number[]): Promise<number> {
  const key = `imap.binary-size.${part.join('.')}`;
  const cached = mailbox.getCached(uid, key);
  if (typeof cached === 'number') return cached;
  let size: number;
  try {
    size = binarySize(await content.read(), layout.parsed, part.join('.'));
  } catch (err) {
    binaryFailure(err);
  }
  mailbox.setCached(uid, key, size);
  return size;
}
