// Line-end conversion of stored messages (RFC 9051 section 2.3.4: LF on disk, CRLF on the wire) with the WebAssembly
// SIMD kernels of crlf-simd.wat: bytes go through the kernels' memory in pieces, 16 bytes per step instead of a native
// call per line.
import { CRLF_SIMD_WASM } from './crlf-simd-binary.js';

/** Bytes converted per kernel call; the output of a piece needs up to twice that (every byte a bare LF). */
const PIECE = 128 * 1024;
/** Where a piece is copied to: the byte before it sits at SRC - 1. */
const SRC = 16;
/** Where its conversion goes, with room for the 15 bytes the kernel may write past its output. */
const DST = SRC + PIECE + 16;
const MEMORY_NEEDED = DST + 2 * PIECE + 16;

interface Kernels {
  memory: Uint8Array;
  countBareLfs(src: number, len: number): number;
  lfToCrlf(src: number, len: number, dst: number): number;
  crlfToLf(src: number, len: number, dst: number): number;
}

/** The kernels, or undefined where WebAssembly (with SIMD) is not available: crlf.ts then converts in JavaScript. */
export const simdKernels: Kernels | undefined = instantiate();

function instantiate(): Kernels | undefined {
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(CRLF_SIMD_WASM, 'base64')));
    const memory = new Uint8Array((instance.exports.memory as WebAssembly.Memory).buffer);
    if (memory.length < MEMORY_NEEDED) throw new Error(`kernel memory of ${memory.length} bytes, ${MEMORY_NEEDED} needed`);
    return {
      memory,
      countBareLfs: instance.exports.count_bare_lfs as Kernels['countBareLfs'],
      lfToCrlf: instance.exports.lf_to_crlf as Kernels['lfToCrlf'],
      crlfToLf: instance.exports.crlf_to_lf as Kernels['crlfToLf'],
    };
  } catch {
    return undefined;
  }
}

/**
 * Copies one piece to the kernels' memory between the byte that came before it and the one that comes after it
 * (-1: none, the message starts or ends here).
 */
function load(k: Kernels, piece: Uint8Array, before: number, after = -1): void {
  k.memory[SRC - 1] = before < 0 ? 0 : before;
  k.memory.set(piece, SRC);
  k.memory[SRC + piece.length] = after < 0 ? 0 : after;
}

/** LFs in buf without a CR before them; `before` is the byte that came before buf (-1 at the start). */
export function countBareLfsSimd(k: Kernels, buf: Uint8Array, before: number): number {
  let count = 0;
  for (let at = 0; at < buf.length; at += PIECE) {
    const piece = buf.subarray(at, at + PIECE);
    load(k, piece, at === 0 ? before : buf[at - 1]!);
    count += k.countBareLfs(SRC, piece.length);
  }
  return count;
}

type Kernel = (src: number, len: number, dst: number) => number;

/** Runs `kernel` over the piece of buf at `at`, with its neighbours; the result is in the kernels' memory until the next call. */
function convertPiece(k: Kernels, kernel: Kernel, buf: Uint8Array, at: number, before: number): Uint8Array {
  const piece = buf.subarray(at, at + PIECE);
  load(k, piece, at === 0 ? before : buf[at - 1]!, at + PIECE < buf.length ? buf[at + PIECE]! : -1);
  return k.memory.subarray(DST, DST + kernel(SRC, piece.length, DST));
}

/** buf run through `kernel` piece by piece into one buffer of at most outSize() bytes (buf itself when nothing changed). */
function convertWhole(k: Kernels, kernel: Kernel, buf: Buffer, before: number, outSize: () => number): Buffer {
  if (buf.length <= PIECE) {
    const converted = convertPiece(k, kernel, buf, 0, before);
    return converted.length === buf.length ? buf : Buffer.from(converted);
  }
  const out = Buffer.allocUnsafe(outSize());
  let n = 0;
  for (let at = 0; at < buf.length; at += PIECE) {
    const converted = convertPiece(k, kernel, buf, at, before);
    out.set(converted, n);
    n += converted.length;
  }
  return n === buf.length ? buf : out.subarray(0, n);
}

/** buf with a CR put before every bare LF (buf itself when it has none). */
export function lfToCrlfSimd(k: Kernels, buf: Buffer, before: number): Buffer {
  return convertWhole(k, k.lfToCrlf, buf, before, () => buf.length + countBareLfsSimd(k, buf, before));
}

/**
 * Converts buf[from, to) where it lies, the result starting `room` bytes earlier (see toCrlfInPlace in crlf.ts).
 * Each piece is copied out before its conversion is written back, so the output may catch up with the input
 * as far as the piece read last; past that (more bare LFs than room) the rest is converted into a new buffer.
 */
export function toCrlfInPlaceSimd(k: Kernels, buf: Buffer, from: number, to: number, room: number, before: number): Buffer {
  const start = from - room;
  let out = start;
  let previous = before;
  for (let at = from; at < to; at += PIECE) {
    const end = Math.min(to, at + PIECE);
    load(k, buf.subarray(at, end), previous);
    previous = buf[end - 1]!;
    const written = k.lfToCrlf(SRC, end - at, DST);
    const converted = k.memory.subarray(DST, DST + written);
    if (out + written > end) {
      // A copy first: converting the rest reuses the kernels' memory.
      const piece = Buffer.from(converted);
      return Buffer.concat([buf.subarray(start, out), piece, lfToCrlfSimd(k, buf.subarray(end, to), previous)]);
    }
    buf.set(converted, out);
    out += written;
  }
  return buf.subarray(start, out);
}

/**
 * buf without the CR of each CR LF pair in it (buf itself when there is none); a CR that ends buf is kept. The byte
 * after each piece decides whether the piece's last CR goes.
 */
export function crlfToLfSimd(k: Kernels, buf: Buffer): Buffer {
  return convertWhole(k, k.crlfToLf, buf, -1, () => buf.length);
}
