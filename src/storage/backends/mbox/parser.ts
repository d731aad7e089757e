// Splits an mbox file into messages as Dovecot's istream-raw-mbox does: a message starts at a valid From_ line, the
// LF before the next "\nFrom " (or the file's final LF) is the separator, a valid Content-Length is trusted; no >From unquoting.
import { applyHiddenHeader, emptyMetadata, HIDDEN_HEADERS, type MessageMetadata } from './metadata.js';
import { parseFromLine } from './from-line.js';

const LF = 0x0a;
const CR = 0x0d;
const WINDOW = 64 * 1024;
/** Bytes of a line kept for inspection (header names and values, From_ lines); longer lines are only measured. */
const LINE_HEAD = 8 * 1024;

/** Random-access bytes: a file descriptor or a Buffer. */
export interface ByteSource {
  readonly size: number;
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<number>;
}

export function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read: async (target, offset, length, position) => buf.copy(target, offset, position, Math.min(buf.length, position + length)),
  };
}

interface Line {
  start: number;
  /** offset after the LF (or the file end) */
  end: number;
  /** the first bytes of the line (at most LINE_HEAD), LF included when it fits */
  head: Buffer;
  hasLf: boolean;
  /** bare LFs in the line (0 or 1): what turning it into CRLF adds */
  bareLf: number;
}

/** Reads lines at arbitrary offsets through a sliding window. */
export class LineReader {
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(readonly source: ByteSource) {}

  private async load(pos: number, min = WINDOW): Promise<void> {
    const len = Math.max(min, WINDOW);
    const buf = Buffer.allocUnsafe(Math.min(len, Math.max(0, this.source.size - pos)));
    let got = 0;
    while (got < buf.length) {
      const n = await this.source.read(buf, got, buf.length - got, pos + got);
      if (n <= 0) break;
      got += n;
    }
    this.window = buf.subarray(0, got);
    this.windowStart = pos;
  }

  async bytes(pos: number, len: number): Promise<Buffer> {
    if (pos < this.windowStart || pos + len > this.windowStart + this.window.length) {
      if (pos + len > this.source.size) len = Math.max(0, this.source.size - pos);
      await this.load(pos, len);
    }
    return this.window.subarray(pos - this.windowStart, pos - this.windowStart + len);
  }

  async byteAt(pos: number): Promise<number> {
    if (pos < 0 || pos >= this.source.size) return -1;
    const b = await this.bytes(pos, 1);
    return b[0] ?? -1;
  }

  async line(pos: number): Promise<Line> {
    const size = this.source.size;
    let head: Buffer | undefined;
    let scan = pos;
    let prev = pos > 0 ? await this.byteAt(pos - 1) : -1;
    for (;;) {
      if (scan >= size) {
        const h = head ?? (await this.bytes(pos, Math.min(LINE_HEAD, size - pos)));
        return { start: pos, end: size, head: Buffer.from(h), hasLf: false, bareLf: 0 };
      }
      if (scan < this.windowStart || scan >= this.windowStart + this.window.length) await this.load(scan);
      const rel = scan - this.windowStart;
      const idx = this.window.indexOf(LF, rel);
      // A line running past the window's end takes the rest of its head from the next window.
      const had = head?.length ?? 0;
      if (had < LINE_HEAD) {
        const part = this.window.subarray(rel, Math.min(idx >= 0 ? idx + 1 : this.window.length, rel + LINE_HEAD - had));
        head = head ? Buffer.concat([head, part]) : Buffer.from(part);
      }
      if (idx >= 0) {
        const lfPos = this.windowStart + idx;
        const before = lfPos > scan ? this.window[idx - 1]! : prev;
        return { start: pos, end: lfPos + 1, head: head!, hasLf: true, bareLf: before === CR ? 0 : 1 };
      }
      prev = this.window[this.window.length - 1] ?? prev;
      scan = this.windowStart + this.window.length;
    }
  }

  /** Bare LFs in [from, to): what converting the range to CRLF adds. */
  async countBareLf(from: number, to: number): Promise<number> {
    let count = 0;
    let prev = from > 0 ? await this.byteAt(from - 1) : -1;
    let pos = from;
    while (pos < to) {
      const chunk = await this.bytes(pos, Math.min(WINDOW, to - pos));
      if (chunk.length === 0) break;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === LF && prev !== CR) count++;
        prev = b;
      }
      pos += chunk.length;
    }
    return count;
  }
}

export interface MboxRecord {
  /** start of the From_ line */
  fromOffset: number;
  /** after the From_ line */
  hdrOffset: number;
  /** after the blank line that ends the header (equal to the header end when it has none) */
  bodyOffset: number;
  /** end of the message; the separator LF (or the file's final LF) follows */
  endOffset: number;
  sender: string;
  internalDate: number;
  meta: MessageMetadata;
  /** Header lines shown to clients, [start, end) with their line ends. */
  visibleHeaders: Array<[number, number]>;
  /** The blank line ending the header, [start, end); empty when missing. */
  eoh: [number, number];
  /** Absolute offset of the 10 last-uid digits in X-IMAPbase / X-IMAP, when written zero-padded as Dovecot does. */
  lastUidDigitsOffset?: number;
  /** RFC822.SIZE: visible headers, blank line and body in CRLF form */
  size: number;
}

export interface MboxParse {
  fileSize: number;
  /** bytes before the first From_ line (not an mbox message; kept on rewrites) */
  leadingBytes: number;
  /** the pseudo message holding folder data (X-IMAP), when the file starts with one */
  pseudo?: MboxRecord;
  records: MboxRecord[];
}

/** Sizes remembered from an earlier parse, so that a message with a valid Content-Length needs no body scan. */
export type SizeHint = (uid: number, physicalSize: number) => number | undefined;

export function isFromLine(head: Buffer): ReturnType<typeof parseFromLine> {
  if (head.length < 5 || head[0] !== 0x46 || head.toString('latin1', 0, 5) !== 'From ') return null;
  return parseFromLine(head.toString('latin1'));
}

/** Where a message whose body starts at bodyOffset ends per its Content-Length, when that is valid (Dovecot's rule). */
async function validContentLengthEnd(reader: LineReader, bodyOffset: number, contentLength: number): Promise<number | undefined> {
  const size = reader.source.size;
  const p = bodyOffset + contentLength;
  if (p > size) return undefined;
  const b0 = await reader.byteAt(p);
  const b1 = await reader.byteAt(p + 1);
  if (b0 === LF && p + 1 === size) return p;
  if (b0 === CR && b1 === LF && p + 2 === size) return p;
  const fromAt = b0 === LF ? p + 1 : b0 === CR && b1 === LF ? p + 2 : -1;
  if (fromAt < 0) return undefined;
  const line = await reader.line(fromAt);
  return isFromLine(line.head) ? p : undefined;
}

/** The separator position for a From_ line starting at `lineStart` (the LF before it, with its CR). */
async function separatorBefore(reader: LineReader, lineStart: number, floor: number): Promise<number> {
  let p = lineStart - 1;
  if (p - 1 >= floor && (await reader.byteAt(p - 1)) === CR) p--;
  return p;
}

/** The end of the message for a file that ends at `size`: the final LF (CRLF) is the trailer. */
async function eofEnd(reader: LineReader, floor: number): Promise<number> {
  const size = reader.source.size;
  let p = size;
  if (p > floor && (await reader.byteAt(p - 1)) === LF) {
    p--;
    if (p > floor && (await reader.byteAt(p - 1)) === CR) p--;
  }
  return p;
}

/** Parses one message whose From_ line starts at `fromOffset`; returns it and the offset of the next From_ line (or the file size). */
export async function parseMessage(reader: LineReader, fromOffset: number, isFirst: boolean, sizeHint: SizeHint | undefined): Promise<{ record: MboxRecord; next: number }> {
  const size = reader.source.size;
  const fromLine = await reader.line(fromOffset);
  const from = isFromLine(fromLine.head)!;
  const hdrOffset = fromLine.end;
  const meta = emptyMetadata();
  const visibleHeaders: Array<[number, number]> = [];
  let lastUidDigitsOffset: number | undefined;
  let pos = hdrOffset;
  let eoh: [number, number] | undefined;
  let endOffset: number | undefined;
  let next = size;
  let headerBareLf = 0;
  // current header field being collected
  let field: { name: string; start: number; valueStart: number; end: number; value: string; hidden: boolean; bareLf: number } | undefined;
  const flushField = () => {
    if (!field) return;
    if (field.hidden) {
      applyHiddenHeader(meta, field.name, field.value, isFirst);
      if ((field.name === 'x-imapbase' || field.name === 'x-imap') && isFirst) {
        const m = /^([ \t]*\d+[ \t]+)(\d{10})(?=[ \t\r\n]|$)/.exec(field.value);
        if (m) lastUidDigitsOffset = field.valueStart + m[1]!.length;
      }
    } else {
      visibleHeaders.push([field.start, field.end]);
      headerBareLf += field.bareLf;
    }
    field = undefined;
  };
  while (pos < size) {
    const line = await reader.line(pos);
    if (isFromLine(line.head)) {
      // A From_ line before the blank line: the message ends here (it has no body).
      flushField();
      endOffset = await separatorBefore(reader, pos, hdrOffset);
      next = pos;
      break;
    }
    const text = line.head.toString('latin1');
    if (text === '\n' || text === '\r\n' || (!line.hasLf && text.length === 0)) {
      flushField();
      eoh = [pos, line.end];
      pos = line.end;
      break;
    }
    if ((text[0] === ' ' || text[0] === '\t') && field) {
      field.end = line.end;
      field.value += text.replace(/\r?\n$/, '');
      field.bareLf += line.bareLf;
    } else {
      flushField();
      const colon = text.indexOf(':');
      const name = colon > 0 ? text.slice(0, colon).trim().toLowerCase() : '';
      const hidden = name !== '' && HIDDEN_HEADERS.has(name) && /^[\x21-\x39\x3b-\x7e]+[ \t]*$/.test(text.slice(0, colon));
      field = { name, start: pos, valueStart: pos + colon + 1, end: line.end, value: colon > 0 ? text.slice(colon + 1).replace(/\r?\n$/, '') : '', hidden, bareLf: line.bareLf };
    }
    pos = line.end;
  }
  if (endOffset === undefined && !eoh) {
    flushField();
    // The header ran to the end of the file.
    endOffset = await eofEnd(reader, hdrOffset);
    next = size;
  }
  let bodyOffset = eoh ? eoh[1] : endOffset!;
  let bodyBareLf = 0;
  if (endOffset === undefined) {
    // Find the body's end: a valid Content-Length, else the next valid From_ line, else the end of the file.
    const clEnd = meta.contentLength !== undefined ? await validContentLengthEnd(reader, bodyOffset, meta.contentLength) : undefined;
    if (clEnd !== undefined) {
      endOffset = clEnd;
      const after = (await reader.byteAt(clEnd)) === CR ? clEnd + 2 : clEnd + 1;
      next = after >= size ? size : after;
      const hinted = meta.uid !== undefined ? sizeHint?.(meta.uid, endOffset - hdrOffset) : undefined;
      if (hinted !== undefined) return await finish(hinted);
      bodyBareLf = await reader.countBareLf(bodyOffset, endOffset);
    } else {
      let p = bodyOffset;
      for (;;) {
        if (p >= size) {
          endOffset = await eofEnd(reader, bodyOffset);
          next = size;
          break;
        }
        const line = await reader.line(p);
        if (isFromLine(line.head)) {
          endOffset = await separatorBefore(reader, p, hdrOffset);
          next = p;
          break;
        }
        p = line.end;
      }
      bodyBareLf = await reader.countBareLf(bodyOffset, Math.max(bodyOffset, endOffset));
    }
  }
  return await finish(undefined);

  async function finish(hintedSize: number | undefined): Promise<{ record: MboxRecord; next: number }> {
    let end = endOffset!;
    let eohRange: [number, number] = eoh ?? [end, end];
    // "headers\n\nFrom ...": the blank line was the separator, not the end of the header.
    if (end < eohRange[1]) {
      eohRange = [end, end];
      bodyOffset = end;
    }
    if (end < bodyOffset) bodyOffset = end;
    const eohBareLf = eohRange[1] > eohRange[0] ? (eohRange[1] - eohRange[0] === 1 ? 1 : 0) : 0;
    let size: number;
    if (visibleHeaders.some(([, e]) => e > end)) {
      // the last header line ran into the file's final LF: that LF is the trailer, not part of the message
      const clamped = visibleHeaders.map(([s, e]): [number, number] => [s, Math.min(e, end)]).filter(([s, e]) => e > s);
      visibleHeaders.splice(0, visibleHeaders.length, ...clamped);
      headerBareLf = 0;
      for (const [s, e] of visibleHeaders) headerBareLf += await reader.countBareLf(s, e);
    }
    if (hintedSize !== undefined) size = hintedSize;
    else {
      const headerBytes = visibleHeaders.reduce((n, [s, e]) => n + (e - s), 0);
      size = headerBytes + headerBareLf + (eohRange[1] - eohRange[0]) + eohBareLf + (end - bodyOffset) + bodyBareLf;
    }
    end = Math.max(end, bodyOffset);
    return {
      record: {
        fromOffset,
        hdrOffset,
        bodyOffset,
        endOffset: end,
        sender: from.sender,
        internalDate: from.date,
        meta,
        visibleHeaders,
        eoh: eohRange,
        lastUidDigitsOffset,
        size,
      },
      next,
    };
  }
}

/** Parses a whole mbox. */
export async function parseMbox(source: ByteSource, sizeHint?: SizeHint): Promise<MboxParse> {
  return parseMboxFrom(source, 0, true, sizeHint);
}

/** Parses the messages from `start` (a From_ line, or the file start) to the end of the file. */
export async function parseMboxFrom(source: ByteSource, start: number, startsFirst: boolean, sizeHint?: SizeHint): Promise<MboxParse> {
  const reader = new LineReader(source);
  const size = source.size;
  let pos = start;
  // Skip anything before the first From_ line (a file that is not quite an mbox).
  while (pos < size) {
    const line = await reader.line(pos);
    if (isFromLine(line.head)) break;
    pos = line.end;
  }
  const leadingBytes = pos - start;
  const records: MboxRecord[] = [];
  let pseudo: MboxRecord | undefined;
  let first = startsFirst;
  while (pos < size) {
    const { record, next } = await parseMessage(reader, pos, first, sizeHint);
    if (first && record.meta.pseudoBase && !record.meta.imapBase) pseudo = record;
    else records.push(record);
    first = false;
    if (next <= pos) break;
    pos = next;
  }
  return { fileSize: size, leadingBytes, pseudo, records };
}
