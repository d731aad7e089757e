// Writes untagged FETCH responses whose literals may be streams (RFC 9051 section 7.5.2), gathered into one
// Buffer per batch (one write, one compressor feed with COMPRESS, RFC 4978) and honouring back-pressure.
import type { Readable } from 'node:stream';
import { releaseFramed } from '../../../storage/api.js';
import type { ImapSessionApi } from '../types.js';
import type { SectionData } from './body-sections.js';

/** Text pieces are protocol syntax as byte strings (latin1); SectionData pieces are literal bodies. */
export type ResponsePiece = string | SectionData;

/** Responses gather until this much is pending, then leave as one write (and one drain wait). */
const BATCH_BYTES = 64 * 1024;

async function writeStream(s: ImapSessionApi, stream: Readable, size: number): Promise<void> {
  let written = 0;
  for await (const chunk of stream) {
    const buf: Buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : (chunk as Buffer);
    written += buf.length;
    if (written > size) {
      stream.destroy();
      throw new Error(`message data longer than its announced ${size} bytes`);
    }
    // A chunk read into the store's pooled memory goes back to the pool once written (other buffers are left alone).
    s.write(buf, () => releaseFramed(buf));
    await s.drain();
  }
  if (written !== size) throw new Error(`message data gave ${written} of its announced ${size} bytes`);
}

/**
 * Collects the responses of one command into a buffer that leaves whenever BATCH_BYTES have gathered, so a FETCH of
 * thousands of small responses makes a few large writes instead of two writes and a drain wait per message.
 * Streamed literals (large bodies) are written through as before, after what was gathered ahead of them.
 */
export class ResponseBatch {
  private buf = Buffer.allocUnsafe(BATCH_BYTES);
  private used = 0;

  constructor(private readonly s: ImapSessionApi) {}

  private room(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const size = Math.max(BATCH_BYTES, this.used + n);
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }

  private text(t: string): void {
    // A latin1 string takes one byte per character.
    this.room(t.length);
    this.used += this.buf.write(t, this.used, 'latin1');
  }

  private bytes(b: Buffer): void {
    this.room(b.length);
    this.used += b.copy(this.buf, this.used);
  }

  /** Sends what has gathered (the buffer is handed over, a fresh one takes its place). */
  private send(): void {
    if (this.used === 0) return;
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(BATCH_BYTES);
    this.used = 0;
    this.s.write(out);
  }

  /** Adds one response; writes (and waits for the connection to drain) once a batch has filled. */
  async add(pieces: readonly ResponsePiece[]): Promise<void> {
    for (const piece of pieces) {
      if (typeof piece === 'string') {
        this.text(piece);
        continue;
      }
      this.text(`${piece.literal8 ? '~' : ''}{${piece.size}}\r\n`);
      if (Buffer.isBuffer(piece.data)) {
        this.bytes(piece.data);
        continue;
      }
      this.send();
      await writeStream(this.s, piece.data(), piece.size);
    }
    if (this.used >= BATCH_BYTES) {
      this.send();
      await this.s.drain();
    }
  }

  /** Writes whatever is still gathered (at the end of the command, or before it fails). */
  async flush(): Promise<void> {
    this.send();
    await this.s.drain();
  }
}

/** Writes one response at once (commands that send a single FETCH response). */
export async function writePieces(s: ImapSessionApi, pieces: readonly ResponsePiece[]): Promise<void> {
  const batch = new ResponseBatch(s);
  await batch.add(pieces);
  await batch.flush();
}
