// Runs CPU-heavy crypt(3) computations (SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT) on a small pool of
// worker threads (one per CPU, at least 2), so logins use every core and never block the event loop.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLogger } from '../../lib/logger.js';
import type { CryptReply, CryptRequest } from './crypt-thread.js';

const log = getLogger({ component: 'auth-crypt' });

type CryptJob = Omit<CryptRequest, 'id'>;

interface Pending {
  job: CryptJob;
  resolve(result: Buffer): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  current?: Pending & { id: number };
}

/**
 * The worker's entry, plain JavaScript: it imports crypt-thread (.js when built, .ts from the
 * sources). Node 20 hands no loader hooks to workers, whether tsx came through --import or its
 * API (bin/roost.js), so for the TypeScript source the worker registers tsx itself first.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsxApiUrl) (await import(workerData.tsxApiUrl)).register();
  await import(workerData.threadUrl);
})();
`;

function threadLocation(): { threadUrl: string; tsxApiUrl?: string } {
  const ext = extname(fileURLToPath(import.meta.url)) || '.js';
  const threadUrl = new URL(`./crypt-thread${ext}`, import.meta.url).href;
  if (ext !== '.ts') return { threadUrl };
  return { threadUrl, tsxApiUrl: import.meta.resolve('tsx/esm/api') };
}

export class CryptWorkerPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private spawned = 0;

  /** `entry` replaces the thread's module (tests: a pool whose threads fail to start). */
  constructor(
    size = Math.max(2, availableParallelism()),
    private readonly entry: { threadUrl: string; tsxApiUrl?: string } = threadLocation(),
  ) {
    this.size = size;
  }

  /** Threads started so far (over the pool's life, replacements included). */
  get threadsStarted(): number {
    return this.spawned;
  }

  run(job: CryptJob): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.pump();
    });
  }

  /** Hands queued jobs to idle threads, starting threads (up to size) while all are busy. */
  private pump(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.current);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const pending = this.queue.shift()!;
      const id = this.nextId++;
      slot.current = { ...pending, id };
      slot.worker.ref();
      slot.worker.postMessage({ id, ...pending.job } satisfies CryptRequest);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: this.entry });
    worker.unref();
    this.spawned++;
    const slot: Slot = { worker };
    worker.on('message', (reply: CryptReply) => {
      const current = slot.current;
      if (!current || current.id !== reply.id) return;
      slot.current = undefined;
      worker.unref();
      if ('error' in reply) current.reject(new Error(reply.error));
      else current.resolve(Buffer.from(reply.result.buffer, reply.result.byteOffset, reply.result.byteLength));
      this.pump();
    });
    const retire = (err: Error): void => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      const current = slot.current;
      slot.current = undefined;
      current?.reject(err);
      this.pump();
    };
    worker.on('error', (err) => {
      log.error({ err: err.message }, 'crypt worker failed');
      retire(err);
    });
    worker.on('exit', () => retire(new Error('crypt worker exited')));
    this.slots.push(slot);
    return slot;
  }
}

export const cryptPool = new CryptWorkerPool();

/** crypt(3) with a `$5$` or `$6$` setting (salt, optional rounds=N), off the event loop; the output's bytes. */
export function shaCrypt(password: string, setting: string): Promise<Buffer> {
  return cryptPool.run({ op: 'sha-crypt', password, setting });
}

/** crypt(3) with a `$1$salt` (MD5-CRYPT) or `$apr1$salt` setting, off the event loop; the output's bytes. */
export function md5Crypt(password: string, setting: string): Promise<Buffer> {
  return cryptPool.run({ op: 'md5-crypt', password, setting });
}
