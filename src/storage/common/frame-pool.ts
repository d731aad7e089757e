// Reusable buffers for message reads that a protocol writes out and then hands back (POP3 RETR), so a download of
// thousands of messages does not allocate, and the garbage collector then sweep, a fresh buffer per message.

/** Buffers come in power-of-two sizes from 16 KiB to 2 MiB (a POP3 RETR reads up to 1 MiB whole); larger reads are not pooled. */
const SMALLEST = 16 * 1024;
const LARGEST = 2 * 1024 * 1024;
/** Free buffers kept at most, over all sizes. */
const KEPT_BYTES_MAX = 16 * 1024 * 1024;

/** Every buffer this pool made (so that only those come back), and the free ones by size. */
const made = new WeakSet<ArrayBufferLike>();
const free = new Map<number, ArrayBufferLike[]>();
const isFree = new WeakSet<ArrayBufferLike>();
let keptBytes = 0;

function sizeFor(length: number): number {
  let size = SMALLEST;
  while (size < length) size *= 2;
  return size;
}

/** A buffer of `length` bytes (contents undefined): a free one of the pool when there is one. */
export function takeFrame(length: number): Buffer {
  if (length > LARGEST) return Buffer.allocUnsafeSlow(length);
  const size = sizeFor(length);
  const reused = free.get(size)?.pop();
  if (reused) {
    isFree.delete(reused);
    keptBytes -= size;
    return Buffer.from(reused, 0, length);
  }
  const fresh = Buffer.allocUnsafeSlow(size);
  made.add(fresh.buffer);
  return fresh.subarray(0, length);
}

/**
 * Gives back a buffer takeFrame() made (or any view of one) once nothing refers to it any more: its bytes were
 * written out. Other buffers, and one already given back, are ignored.
 */
export function releaseFrame(view: Buffer): void {
  const memory = view.buffer;
  if (!made.has(memory) || isFree.has(memory) || keptBytes + memory.byteLength > KEPT_BYTES_MAX) return;
  isFree.add(memory);
  keptBytes += memory.byteLength;
  let list = free.get(memory.byteLength);
  if (!list) free.set(memory.byteLength, (list = []));
  list.push(memory);
}
