// Line-end conversion between stores and IMAP: Maildir files keep LF line ends (as Dovecot saves them), IMAP sizes
// and bytes use CRLF (RFC 9051 2.3.4 RFC822.SIZE). vsize = file size + number of LFs without a CR before them.
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;

/** Converts CRLF to LF while saving and counts both sizes of the result. */
export class CrlfToLf extends Transform {
  /** Bytes written out (the physical size). */
  physicalSize = 0;
  /** Size of the output in CRLF form. */
  virtualSize = 0;
  private pendingCr = false;
  private lastOut = -1;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let n = 0;
    let i = 0;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.length > 0 && chunk[0] === LF) {
        out[n++] = LF;
        i = 1;
      } else {
        out[n++] = CR;
      }
    }
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === CR) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === LF) continue; // drop the CR of a CRLF
          out[n++] = CR;
        } else {
          this.pendingCr = true;
        }
      } else {
        out[n++] = b;
      }
    }
    this.emitCounted(out.subarray(0, n));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.pendingCr) this.emitCounted(Buffer.from([CR]));
    cb();
  }

  private emitCounted(buf: Buffer): void {
    if (buf.length === 0) return;
    let prev = this.lastOut;
    let extra = 0;
    for (const b of buf) {
      if (b === LF && prev !== CR) extra++;
      prev = b;
    }
    this.lastOut = prev;
    this.physicalSize += buf.length;
    this.virtualSize += buf.length + extra;
    this.push(buf);
  }
}

/** Converts bare LF to CRLF while reading, optionally passing on only the output byte range [start, end). */
export class LfToCrlf extends Transform {
  private prev = -1;
  private offset = 0;

  constructor(
    private readonly rangeStart = 0,
    private readonly rangeEnd = Infinity,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.offset >= this.rangeEnd) {
      cb();
      return;
    }
    const out = Buffer.allocUnsafe(chunk.length * 2);
    let n = 0;
    for (const b of chunk) {
      if (b === LF && this.prev !== CR) out[n++] = CR;
      out[n++] = b;
      this.prev = b;
    }
    const from = this.offset;
    const to = from + n;
    this.offset = to;
    const sliceStart = Math.max(this.rangeStart, from) - from;
    const sliceEnd = Math.min(this.rangeEnd, to) - from;
    if (sliceEnd > sliceStart) this.push(out.subarray(sliceStart, sliceEnd));
    cb();
  }
}

/** CRLF size of a buffer holding LF (or mixed) line ends. */
export function crlfSize(buf: Buffer): number {
  let extra = 0;
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) if (i === 0 || buf[i - 1] !== CR) extra++;
  return buf.length + extra;
}

/** The buffer with every bare LF turned into CRLF (the line ends are found with indexOf, the rest copied whole). */
export function toCrlf(buf: Buffer): Buffer {
  const size = crlfSize(buf);
  if (size === buf.length) return buf;
  const out = Buffer.allocUnsafe(size);
  let n = 0;
  let from = 0;
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (i > 0 && buf[i - 1] === CR) continue;
    n += buf.copy(out, n, from, i);
    out[n++] = CR;
    from = i;
  }
  buf.copy(out, n, from);
  return out;
}
