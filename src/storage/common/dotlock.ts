// Dotlocks compatible with Dovecot's file-dotlock (e.g. dovecot-uidlist.lock): a temp file holding "<pid>:<host>"
// linked into place; a lock older than the stale timeout, or held by a dead pid on this host, is overridden.
import { link, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StorageError } from '../errors.js';
import { getLogger } from '../../lib/logger.js';

const log = getLogger({ component: 'dotlock' });

export interface DotlockOptions {
  /** Give up (TEMP/INUSE error) after this many ms of waiting. */
  timeoutMs: number;
  /** A lock not touched for this long is considered stale and removed. */
  staleMs: number;
}

export const UIDLIST_LOCK_OPTIONS: DotlockOptions = { timeoutMs: 30_000, staleMs: 120_000 };

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const st = await stat(lockPath);
    if (Date.now() - st.mtimeMs > staleMs) return true;
    const content = (await readFile(lockPath, 'utf8')).trim();
    const m = /^(\d+):(.*)$/.exec(content);
    if (!m || m[2] !== hostname()) return false;
    const pid = Number(m[1]);
    // Our own pid on a lock made before this process started: a previous run with the same pid left it.
    if (pid === process.pid) return st.mtimeMs < Date.now() - process.uptime() * 1000;
    return !pidAlive(pid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A held dotlock; `touch()` keeps it fresh during long work, `release()` removes it. */
export class Dotlock {
  private released = false;
  constructor(readonly lockPath: string) {}

  async touch(): Promise<void> {
    const now = new Date();
    await utimes(this.lockPath, now, now).catch(() => undefined);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await unlink(this.lockPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** Takes `<path>.lock`, waiting with back-off up to `timeoutMs`, then fails with INUSE. */
export async function acquireDotlock(path: string, opts: DotlockOptions = UIDLIST_LOCK_OPTIONS): Promise<Dotlock> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 2;
  for (;;) {
    // As Dovecot's file-dotlock: the owner is written to a temp file first, which is then linked into place,
    // so a lock file is never seen empty (a process killed half-way leaves only its temp file behind).
    const temp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(temp, `${process.pid}:${hostname()}`, { mode: 0o600 });
      try {
        await link(temp, lockPath);
        return new Dotlock(lockPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    } finally {
      await unlink(temp).catch(() => undefined);
    }
    if (await isStale(lockPath, opts.staleMs)) {
      log.warn({ lockPath }, 'overriding stale dotlock');
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new StorageError('INUSE', undefined, new Error(`dotlock ${lockPath} held too long`));
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 100);
  }
}

/** Runs `fn` holding the dotlock for `path`. */
export async function withDotlock<T>(path: string, fn: (lock: Dotlock) => Promise<T>, opts?: DotlockOptions): Promise<T> {
  const lock = await acquireDotlock(path, opts);
  try {
    return await fn(lock);
  } finally {
    await lock.release();
  }
}
