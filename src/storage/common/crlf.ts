// Line-end conversion between stores and IMAP: Maildir files keep LF line ends (as Dovecot saves them), IMAP sizes
// and bytes use CRLF (RFC 9051 2.3.4 RFC822.SIZE). vsize = file size + number of LFs without a CR before them.
import { Transform, type TransformCallback } from 'node:stream';
import { countBareLfsSimd, crlfToLfSimd, lfToCrlfSimd, simdKernels, toCrlfInPlaceSimd } from './crlf-simd.js';

const CR = 0x0d;
const LF = 0x0a;
const CR_BYTE = Buffer.from([CR]);

/** Converts CRLF to LF while saving and counts both sizes of the result; a CR that ends a chunk waits for the next byte. */
export class CrlfToLf extends Transform {
  /** Bytes written out (the physical size). */
  physicalSize = 0;
  /** Size of the output in CRLF form. */
  virtualSize = 0;
  /** The chunk before ended with a CR whose fate depends on the next byte. */
  private pendingCr = false;
  private lastOut = -1;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (chunk.length === 0) return cb();
    // The CR held back from the chunk before stays unless this one starts with its LF.
    const heldCr = this.pendingCr && chunk[0] !== LF;
    this.pendingCr = chunk[chunk.length - 1] === CR;
    const converted = crlfToLf(this.pendingCr ? chunk.subarray(0, chunk.length - 1) : chunk);
    this.emitCounted(heldCr ? Buffer.concat([CR_BYTE, converted]) : converted);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.pendingCr) this.emitCounted(CR_BYTE);
    cb();
  }

  private emitCounted(buf: Buffer): void {
    if (buf.length === 0) return;
    this.physicalSize += buf.length;
    this.virtualSize += buf.length + bareLfCount(buf, this.lastOut);
    this.lastOut = buf[buf.length - 1]!;
    this.push(buf);
  }
}

/** buf without the CR of each CR LF pair in it (buf itself when there is none); a CR that ends buf is kept. */
function crlfToLf(buf: Buffer): Buffer {
  return simdKernels ? crlfToLfSimd(simdKernels, buf) : portableConversions.crlfToLf(buf);
}

function crlfToLfPortable(buf: Buffer): Buffer {
  const pieces: Buffer[] = [];
  let from = 0;
  for (let i = buf.indexOf(CR); i >= 0; i = buf.indexOf(CR, i + 1)) {
    if (buf[i + 1] !== LF) continue;
    pieces.push(buf.subarray(from, i));
    from = i + 1;
  }
  if (from === 0) return buf;
  pieces.push(buf.subarray(from));
  return Buffer.concat(pieces);
}

/** LFs in buf without a CR before them; `before` is the byte that came before buf (-1 at the start). */
function bareLfCount(buf: Buffer, before: number): number {
  return simdKernels ? countBareLfsSimd(simdKernels, buf, before) : portableConversions.bareLfCount(buf, before);
}

function bareLfCountPortable(buf: Buffer, before: number): number {
  let count = 0;
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) if ((i === 0 ? before : buf[i - 1]) !== CR) count++;
  return count;
}

/** Scratch space for the offsets of the bare LFs of one chunk (grown as needed, reused: conversion is synchronous). */
let bareLfOffsets = new Int32Array(8192);

/** Records the offsets of buf's bare LFs in bareLfOffsets and returns how many there are. */
function findBareLfs(buf: Buffer, before: number): number {
  let count = 0;
  for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if ((i === 0 ? before : buf[i - 1]) === CR) continue;
    if (count === bareLfOffsets.length) {
      const grown = new Int32Array(count * 2);
      grown.set(bareLfOffsets);
      bareLfOffsets = grown;
    }
    bareLfOffsets[count++] = i;
  }
  return count;
}

/** buf with a CR put before every bare LF (buf itself when it has none); `before` is the byte that came before buf (-1 at the start). */
function lfToCrlf(buf: Buffer, before: number): Buffer {
  return simdKernels ? lfToCrlfSimd(simdKernels, buf, before) : portableConversions.lfToCrlf(buf, before);
}

/**
 * lfToCrlf where WebAssembly is not available: the lines are copied with Uint8Array.prototype.set over plain views
 * (Buffer's own copy and subarray cost more per short line).
 */
function lfToCrlfPortable(buf: Buffer, before: number): Buffer {
  const extra = findBareLfs(buf, before);
  if (extra === 0) return buf;
  const out = Buffer.allocUnsafe(buf.length + extra);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  let n = 0;
  let from = 0;
  for (let k = 0; k < extra; k++) {
    const lf = bareLfOffsets[k]!;
    out.set(bytes.subarray(from, lf), n);
    n += lf - from;
    out[n++] = CR;
    from = lf;
  }
  out.set(bytes.subarray(from), n);
  return out;
}

/**
 * Converts in place: buf[from, to) holds stored bytes with at most `room` bare LFs and `room` bytes free in front of
 * them; `before` is the byte stored before buf[from] (-1 at the start). Each line moves down by the CRs still to
 * come, so nothing unread is overwritten and no second buffer or per-line view is made. Answers the converted bytes:
 * from buf[from - room] on (ending at `to` when `room` was the exact count), or, when there were more bare LFs than
 * room (a store changed behind the index), the correct bytes in whatever buffer they ended up in.
 */
export function toCrlfInPlace(buf: Buffer, from: number, to: number, room: number, before = -1): Buffer {
  return simdKernels ? toCrlfInPlaceSimd(simdKernels, buf, from, to, room, before) : portableConversions.toCrlfInPlace(buf, from, to, room, before);
}

/** toCrlfInPlace where WebAssembly is not available: each line moves down with copyWithin. */
function toCrlfInPlacePortable(buf: Buffer, from: number, to: number, room: number, before = -1): Buffer {
  const start = from - room;
  let out = start;
  let pos = from;
  // The methods are called off their prototypes: buffers read into pooled memory reach here with more than one
  // object shape, and a per-line property lookup on them was a measurable part of a POP3 download.
  for (let lf = bufferIndexOf.call(buf, LF, from); lf >= 0 && lf < to; lf = bufferIndexOf.call(buf, LF, lf + 1)) {
    if ((lf > from ? buf[lf - 1] : before) === CR) continue;
    // More bare LFs than room: out has caught up with pos, so [start, lf) is converted and [lf, to) is not.
    if (out === pos) return Buffer.concat([buf.subarray(start, lf), lfToCrlfPortable(buf.subarray(lf, to), -1)]);
    typedArrayCopyWithin.call(buf, out, pos, lf);
    out += lf - pos;
    buf[out++] = CR;
    pos = lf;
  }
  if (out !== pos) typedArrayCopyWithin.call(buf, out, pos, to);
  return buf.subarray(start, out + to - pos);
}

const bufferIndexOf = Buffer.prototype.indexOf;
const typedArrayCopyWithin = Uint8Array.prototype.copyWithin;

/** The JavaScript conversions, used where WebAssembly is not available (and checked against the kernels by the tests). */
export const portableConversions = {
  crlfToLf: crlfToLfPortable,
  bareLfCount: bareLfCountPortable,
  lfToCrlf: lfToCrlfPortable,
  toCrlfInPlace: toCrlfInPlacePortable,
};

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
    if (this.offset >= this.rangeEnd || chunk.length === 0) {
      cb();
      return;
    }
    const out = lfToCrlf(chunk, this.prev);
    this.prev = chunk[chunk.length - 1]!;
    const from = this.offset;
    const to = from + out.length;
    this.offset = to;
    const sliceStart = Math.max(this.rangeStart, from) - from;
    const sliceEnd = Math.min(this.rangeEnd, to) - from;
    if (sliceEnd > sliceStart) this.push(sliceStart === 0 && sliceEnd === out.length ? out : out.subarray(sliceStart, sliceEnd));
    cb();
  }
}

/** CRLF size of a buffer holding LF (or mixed) line ends. */
export function crlfSize(buf: Buffer): number {
  return buf.length + bareLfCount(buf, -1);
}

/** The buffer with every bare LF turned into CRLF (the line ends are found with indexOf, the rest copied whole). */
export function toCrlf(buf: Buffer): Buffer {
  return lfToCrlf(buf, -1);
}
