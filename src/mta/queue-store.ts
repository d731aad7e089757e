// The on-disk queue under <data>/queue/{incoming,active,deferred,hold,corrupt}: unique queue ids, the
// write → fsync → rename that makes a message durable before "250 2.0.0 Ok: queued as <id>" (RFC 5321 4.1.1.4).
import { mkdirSync, openSync, fsyncSync, closeSync, readdirSync, renameSync, rmSync, existsSync } from 'node:fs';
import { rm, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { writeQueueFile, readQueueFile, type QueueEnvelope, type QueueFileState } from './queue-file.js';

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

export interface EnqueueResult {
  id: string;
  contentLength: number;
  /** The content was larger than the size limit: nothing was queued. */
  exceeded: boolean;
}

export class QueueStore {
  readonly root: string;

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
      const { contentLength, exceeded } = await writeQueueFile(tmp, prefixFor(id), content, envelopeFor(id), maxBytes);
      if (exceeded) {
        await rm(tmp, { force: true });
        return { id, contentLength, exceeded };
      }
      await rename(tmp, this.path('incoming', id));
      fsyncDir(join(this.root, 'incoming'));
      return { id, contentLength, exceeded };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
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

  /** Moves a message between states; false when it is no longer in `from` (held or deleted meanwhile). */
  move(id: string, from: QueueState, to: QueueState): boolean {
    try {
      renameSync(this.path(from, id), this.path(to, id));
      fsyncDir(join(this.root, to));
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
