// Multi-line POP3 bodies (RFC 1939 section 3): lines starting with "." get another "."; TOP's cut
// after the header and n body lines; the terminating ".". Works on CRLF message streams chunk by chunk.
import { Transform, type TransformCallback } from 'node:stream';

export class DotStuffer extends Transform {
  private atLineStart = true;
  private lastByte = -1;
  /** Body lines still allowed (TOP); undefined sends everything. */
  private bodyLinesLeft: number | undefined;
  private inBody = false;
  /** The previous line was empty: the next CRLF-only line ends the header. */
  private lineIsEmpty = true;
  private done = false;

  constructor(topLines?: number) {
    super();
    this.bodyLinesLeft = topLines;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.done) return cb();
    const out: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.atLineStart) {
        if (this.inBody && this.bodyLinesLeft !== undefined && this.bodyLinesLeft <= 0) {
          out.push(chunk.subarray(start, i));
          this.done = true;
          this.lastByte = 10;
          this.push(Buffer.concat(out));
          return cb();
        }
        if (b === 0x2e) {
          out.push(chunk.subarray(start, i), Buffer.from('.'));
          start = i;
        }
        this.atLineStart = false;
        this.lineIsEmpty = true;
      }
      if (b === 10) {
        this.atLineStart = true;
        if (!this.inBody) {
          if (this.lineIsEmpty) this.inBody = true;
        } else if (this.bodyLinesLeft !== undefined) {
          this.bodyLinesLeft--;
        }
      } else if (b !== 13) {
        this.lineIsEmpty = false;
      }
      this.lastByte = b;
    }
    out.push(chunk.subarray(start));
    this.push(Buffer.concat(out));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    // The message must end with CRLF before the terminating "." line.
    this.push(this.lastByte === 10 || this.lastByte === -1 ? '.\r\n' : '\r\n.\r\n');
    cb();
  }
}
