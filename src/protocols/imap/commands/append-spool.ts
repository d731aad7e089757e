// Spooling of large APPEND literals: the command reader hands the literal's bytes to a sink as they arrive,
// the sink writes them to a private file under <data>/tmp/imap-append, and APPEND later streams that file into
// storage, so a big message never sits whole in memory (RFC 9051 section 6.3.12 with RFC 7888 literals).
import { createReadStream, createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { LiteralSink } from '../proto/tokens.js';
import type { ImapSessionApi } from '../types.js';

/** Literals at least this big are spooled to disk; smaller ones stay in the reader's buffer. */
export const SPOOL_THRESHOLD_BYTES = 256 * 1024;

export class SpooledLiteral implements LiteralSink {
  private readonly out: WriteStream;
  private readonly finished: Promise<void>;
  private readonly closed: Promise<void>;
  private failure: Error | undefined;
  private pausedSocket = false;
  private disposed = false;

  constructor(
    readonly path: string,
    private readonly s: ImapSessionApi,
  ) {
    this.out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    this.finished = new Promise((resolve) => {
      this.out.once('finish', () => resolve());
      this.out.once('error', (err) => {
        this.failure = err;
        this.resumeSocket();
        resolve();
      });
      this.out.once('close', () => resolve());
    });
    this.closed = new Promise((resolve) => this.out.once('close', () => resolve()));
    this.out.on('drain', () => this.resumeSocket());
  }

  /** Opens a spool file for one literal of a session. */
  static create(s: ImapSessionApi): SpooledLiteral {
    const dir = join(s.ctx.dataDir, 'tmp', 'imap-append');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new SpooledLiteral(join(dir, `${process.pid}.${randomBytes(12).toString('hex')}`), s);
  }

  write(chunk: Buffer): void {
    if (this.failure || this.disposed) return;
    // Back-pressure: stop reading from the client while the disk catches up.
    if (!this.out.write(chunk) && !this.pausedSocket) {
      this.pausedSocket = true;
      this.s.conn.pause();
    }
  }

  end(): void {
    this.out.end();
    // No more literal bytes come to this file, and a stream that is ending never emits 'drain': read on now, or
    // the rest of the command line (and the client) would wait behind a paused socket for ever.
    this.resumeSocket();
  }

  abort(_reason: string): void {
    void this.dispose();
  }

  /** Resolves once every byte is on disk; throws when writing failed. */
  async complete(): Promise<void> {
    await this.finished;
    if (this.failure) throw this.failure;
  }

  open(): Readable {
    return createReadStream(this.path);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.resumeSocket();
    // Wait for the file to be closed (it may still be opening) so the unlink cannot come first.
    this.out.destroy();
    await this.closed;
    await unlink(this.path).catch(() => undefined);
  }

  private resumeSocket(): void {
    if (!this.pausedSocket) return;
    this.pausedSocket = false;
    this.s.conn.resume();
  }
}
