// Runs CPU-heavy crypt(3) computations (SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT) on a worker thread
// so a login never blocks the event loop; the libraries are unixcrypt ($5$/$6$) and apache-md5 ($1$).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { getLogger } from '../../lib/logger.js';

const log = getLogger({ component: 'auth-crypt' });

type CryptJob = { op: 'sha-crypt' | 'md5-crypt'; password: string; setting: string };

interface Pending {
  resolve(result: string): void;
  reject(err: Error): void;
}

/** The worker body, plain JavaScript (workers do not share the TypeScript loader). */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const aprMd5 = require(workerData.apacheMd5Path);
import(workerData.unixcryptUrl).then((unixcrypt) => {
  parentPort.on('message', ({ id, op, password, setting }) => {
    try {
      const result = op === 'md5-crypt' ? aprMd5(password, setting) : unixcrypt.encrypt(password, setting);
      parentPort.postMessage({ id, result });
    } catch (err) {
      parentPort.postMessage({ id, error: String(err && err.message || err) });
    }
  });
  parentPort.postMessage({ ready: true });
});
`;

function libraryLocations(): { apacheMd5Path: string; unixcryptUrl: string } {
  const require = createRequire(import.meta.url);
  const apacheMd5Path = require.resolve('apache-md5');
  // unixcrypt is ESM-only ("import" condition), so it is resolved the ESM way.
  const unixcryptUrl = import.meta.resolve('unixcrypt');
  return { apacheMd5Path, unixcryptUrl };
}

class CryptWorkerPool {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: libraryLocations() });
    worker.unref();
    worker.on('message', (msg: { id?: number; result?: string; error?: string; ready?: boolean }) => {
      if (msg.ready || msg.id === undefined) return;
      const job = this.pending.get(msg.id);
      if (!job) return;
      this.pending.delete(msg.id);
      if (this.pending.size === 0) worker.unref();
      if (msg.error !== undefined) job.reject(new Error(msg.error));
      else job.resolve(msg.result ?? '');
    });
    worker.on('error', (err) => {
      log.error({ err: err.message }, 'crypt worker failed');
      this.failAll(err);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error('crypt worker exited'));
    });
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const job of this.pending.values()) job.reject(err);
    this.pending.clear();
  }

  run(job: CryptJob): Promise<string> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, ...job });
    });
  }
}

const pool = new CryptWorkerPool();

/** crypt(3) with a `$5$` or `$6$` setting (salt, optional rounds=N), off the event loop. */
export function shaCrypt(password: string, setting: string): Promise<string> {
  return pool.run({ op: 'sha-crypt', password, setting });
}

/** crypt(3) with a `$1$salt` setting (MD5-CRYPT) or `$apr1$salt`, off the event loop. */
export function md5Crypt(password: string, setting: string): Promise<string> {
  // apache-md5 hashes JavaScript strings byte-wise: hand it the UTF-8 bytes as a binary string.
  return pool.run({ op: 'md5-crypt', password: Buffer.from(password, 'utf8').toString('latin1'), setting });
}
