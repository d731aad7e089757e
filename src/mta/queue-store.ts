// The on-disk queue under <data>/queue/{incoming,active,deferred,hold,corrupt}: unique queue ids, the
// write → fsync → rename → directory fsync that makes a message durable before "250 2.0.0 Ok: queued as <id>"
// (RFC 5321 4.1.1.4); directory fsyncs of concurrent writers are shared (group commit).
import { mkdirSync, openSync, fsyncSync, closeSync, readdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { writeQueueFile, readQueueFile, freshState, fsyncFd, type QueueEnvelope, type QueueFileState } from './queue-file.js';

export const QUEUE_STATES = ['incoming', 'active', 'deferred', 'hold', 'corrupt'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

let lastStamp = 0;
let counter = 0;
/** A queue id: time-ordered, upper-case base 36 with random bits, safe as a file name. */
export function newQueueId(): string {
  const now = Date.now();
  counter = now === lastStamp ? counter + 1 : 0;
  lastStamp = now;
  return (now.toString(36) + counter.toString(36).padStart(2, '0') + randomBytes(4).toString('hex')).toUpperCase();
}

export function isQueueId(id: string): boolean {
  return /^[0-9A-Z]{8,40}$/.test(id);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Group commit of a directory: every caller gets an fsync that began after it called, and callers arriving
 * while one runs share the next one, so N concurrent renames cost about two fsyncs instead of N.
 */
class DirSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  sync(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) return this.start();
    this.next = this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<void> {
    const run: Promise<void> = (async () => {
      const fd = openSync(this.dir, 'r');
      try {
        await fsyncFd(fd);
      } finally {
        closeSync(fd);
      }
    })().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/** A message just queued by this process: its state and, when small, its content (as received, in chunks), so delivery need not read it back. */
export interface FreshMessage {
  state: QueueFileState;
  content?: Buffer[];
}

const sizeOf = (content: Buffer[] | undefined): number => (content ? content.reduce((n, b) => n + b.length, 0) : 0);

const FRESH_LIMIT_COUNT = 5_000;
const FRESH_LIMIT_BYTES = 64 * 1024 * 1024;

export interface EnqueueResult {
  id: string;
  contentLength: number;
  /** The content was larger than the size limit: nothing was queued. */
  exceeded: boolean;
}

export class QueueStore {
  readonly root: string;
  private readonly dirSyncs = new Map<QueueState, DirSync>();
  private readonly fresh = new Map<string, FreshMessage>();
  private freshBytes = 0;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'queue');
    for (const state of QUEUE_STATES) mkdirSync(join(this.root, state), { recursive: true, mode: 0o700 });
  }

  path(state: QueueState, id: string): string {
    return join(this.root, state, id);
  }

  /** Writes the message under a temporary name, fsyncs it, renames it into incoming and fsyncs the directory. */
  async enqueue(envelopeFor: (id: string) => QueueEnvelope, prefixFor: (id: string) => Buffer, content: Readable | AsyncIterable<Buffer | string>, maxBytes = Infinity): Promise<EnqueueResult> {
    const id = newQueueId();
    const tmp = join(this.root, 'incoming', `.${id}.tmp`);
    try {
      const envelope = envelopeFor(id);
      const written = await writeQueueFile(tmp, prefixFor(id), content, envelope, maxBytes);
      if (written.exceeded) {
        rmSync(tmp, { force: true });
        return { id, contentLength: written.contentLength, exceeded: true };
      }
      renameSync(tmp, this.path('incoming', id));
      await this.syncDir('incoming');
      this.remember(id, { state: freshState(envelope, written.contentLength), content: written.content });
      return { id, contentLength: written.contentLength, exceeded: false };
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** fsync of a queue directory, shared with concurrent callers. */
  syncDir(state: QueueState): Promise<void> {
    let d = this.dirSyncs.get(state);
    if (!d) this.dirSyncs.set(state, (d = new DirSync(join(this.root, state))));
    return d.sync();
  }

  private remember(id: string, m: FreshMessage): void {
    const bytes = sizeOf(m.content);
    if (this.fresh.size >= FRESH_LIMIT_COUNT) return;
    if (this.freshBytes + bytes > FRESH_LIMIT_BYTES) m = { state: m.state };
    this.fresh.set(id, m);
    this.freshBytes += sizeOf(m.content);
  }

  /** What this process knows of a message it queued, once (the first delivery run); undefined when not known. */
  takeFresh(id: string): FreshMessage | undefined {
    const m = this.fresh.get(id);
    if (!m) return undefined;
    this.fresh.delete(id);
    this.freshBytes -= sizeOf(m.content);
    return m;
  }

  /** Forgets what takeFresh would give (the message left incoming some other way). */
  forgetFresh(id: string): void {
    this.takeFresh(id);
  }

  list(state: QueueState): string[] {
    try {
      return readdirSync(join(this.root, state)).filter(isQueueId).sort();
    } catch {
      return [];
    }
  }

  /** Where a queue id lives now, if anywhere. */
  find(id: string): QueueState | undefined {
    if (!isQueueId(id)) return undefined;
    return QUEUE_STATES.find((s) => existsSync(this.path(s, id)));
  }

  /**
   * Moves a message between states; false when it is no longer in `from` (held or deleted meanwhile). `durable`
   * false skips the directory fsync where a crash that undoes the rename is harmless (into active: start-up moves
   * active back to incoming anyway).
   */
  move(id: string, from: QueueState, to: QueueState, durable = true): boolean {
    try {
      renameSync(this.path(from, id), this.path(to, id));
      if (durable) fsyncDir(join(this.root, to));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  read(state: QueueState, id: string): QueueFileState {
    return readQueueFile(this.path(state, id));
  }

  remove(state: QueueState, id: string): boolean {
    const p = this.path(state, id);
    if (!existsSync(p)) return false;
    rmSync(p, { force: true });
    return true;
  }

  /** Removes a delivered message and makes the removal durable (directory fsync shared with concurrent callers). */
  async removeDurably(state: QueueState, id: string): Promise<void> {
    try {
      // On the thread pool: freeing the file's blocks can wait for the journal, which must not stall the event loop.
      await unlink(this.path(state, id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await this.syncDir(state);
  }

  /** Temporary files of writes that never completed (never acknowledged): removed at start-up. */
  removeIncompleteWrites(): number {
    let n = 0;
    for (const name of readdirSync(join(this.root, 'incoming'))) {
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        rmSync(join(this.root, 'incoming', name), { force: true });
        n++;
      }
    }
    return n;
  }
}
