// Multi-line POP3 bodies (RFC 1939 section 3): lines starting with "." get another "."; TOP's cut
// after the header and n body lines; the terminating ".". Works on CRLF message bytes chunk by chunk.
import { Transform, type TransformCallback } from 'node:stream';

const DOT = Buffer.from('.');
const LF_DOT = Buffer.from('\n.');
const END = Buffer.from('.\r\n');
const CRLF_END = Buffer.from('\r\n.\r\n');
const EMPTY = Buffer.alloc(0);

/** Whether a whole message has a line starting with a dot (most have none: one native search). */
export function needsDotStuffing(message: Buffer): boolean {
  return message[0] === 0x2e || message.indexOf(LF_DOT) >= 0;
}

/** The terminating line after a whole message: ".", on a line of its own even when the message lacks a last CRLF. */
export function terminatorAfter(message: Buffer): string {
  return message.length === 0 || message[message.length - 1] === 10 ? '.\r\n' : '\r\n.\r\n';
}

/** The stateful core: feed chunks in order, then finish() for the terminator. */
export class DotStuffing {
  private atLineStart = true;
  private lastByte = -1;
  /** Body lines still allowed (TOP); undefined sends everything. */
  private bodyLinesLeft: number | undefined;
  private inBody = false;
  private lineIsEmpty = true;
  /** TOP's line count is reached: the rest of the message is dropped. */
  done = false;

  constructor(topLines?: number) {
    this.bodyLinesLeft = topLines;
  }

  process(chunk: Buffer): Buffer {
    if (this.done || chunk.length === 0) return this.done ? EMPTY : chunk;
    if (this.bodyLinesLeft === undefined) return this.stuffAll(chunk);
    const out: Buffer[] = [];
    let start = 0;
    let pos = 0;
    // Whole lines are skipped with indexOf; only line starts and ends are looked at.
    while (pos < chunk.length) {
      if (this.atLineStart) {
        if (this.inBody && this.bodyLinesLeft !== undefined && this.bodyLinesLeft <= 0) {
          out.push(chunk.subarray(start, pos));
          this.done = true;
          this.lastByte = 10;
          return Buffer.concat(out);
        }
        if (chunk[pos] === 0x2e) {
          out.push(chunk.subarray(start, pos), DOT);
          start = pos;
        }
        this.atLineStart = false;
        this.lineIsEmpty = true;
      }
      const nl = chunk.indexOf(10, pos);
      const end = nl < 0 ? chunk.length : nl;
      // A line holding anything but a CR is not the blank line that ends the header.
      if (this.lineIsEmpty && end > pos && !(end - pos === 1 && chunk[pos] === 13)) this.lineIsEmpty = false;
      if (nl < 0) break;
      this.atLineStart = true;
      if (!this.inBody) {
        if (this.lineIsEmpty) this.inBody = true;
      } else if (this.bodyLinesLeft !== undefined) {
        this.bodyLinesLeft--;
      }
      pos = nl + 1;
    }
    this.lastByte = chunk[chunk.length - 1]!;
    if (out.length === 0) return chunk;
    out.push(chunk.subarray(start));
    return Buffer.concat(out);
  }

  /**
   * RETR: no line counting, only lines that start with a dot matter. They are found with one native search for
   * LF followed by a dot (most messages have none), not by visiting every line.
   */
  private stuffAll(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let from = 0;
    if (this.atLineStart && chunk[0] === 0x2e) out.push(DOT);
    for (let i = chunk.indexOf(LF_DOT); i >= 0; i = chunk.indexOf(LF_DOT, i + 2)) {
      out.push(chunk.subarray(from, i + 1), DOT);
      from = i + 1;
    }
    this.lastByte = chunk[chunk.length - 1]!;
    this.atLineStart = this.lastByte === 10;
    if (out.length === 0) return chunk;
    out.push(chunk.subarray(from));
    return Buffer.concat(out);
  }

  /** The terminating line; the message must end with CRLF before it. */
  finish(): Buffer {
    return this.lastByte === 10 || this.lastByte === -1 ? END : CRLF_END;
  }
}

/** The same as a stream transform, for messages too large to send from one buffer. */
export class DotStuffer extends Transform {
  private readonly core: DotStuffing;

  constructor(topLines?: number) {
    super();
    this.core = new DotStuffing(topLines);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.core.process(chunk);
    if (out.length) this.push(out);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.push(this.core.finish());
    cb();
  }
}
