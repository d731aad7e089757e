// Dotlocks compatible with Dovecot's file-dotlock (e.g. dovecot-uidlist.lock): the lock file is created with O_EXCL
// and holds "<pid>:<host>" (dotlock_use_excl); a lock older than the stale timeout, or held by a dead pid here, is overridden.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { readFile, stat, unlink, utimes } from 'node:fs/promises';
import { StorageError } from '../errors.js';
import { localHostname } from './fsutil.js';
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

/**
 * When process `pid` started, in ms since the epoch (from /proc: its start time in clock ticks after boot); undefined
 * where /proc cannot tell. USER_HZ is 100 on every Linux build Node runs on.
 */
function processStartedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return undefined;
    return bootSeconds * 1000 + startTicks * 10;
  } catch {
    return undefined;
  }
}

/** An owner writes "<pid>:<host>" straight after creating the lock: one still empty after this long lost its owner. */
const EMPTY_LOCK_GRACE_MS = 5_000;

async function isStale(lockPath: string, staleMs: number): Promise<boolean> {
  try {
    const st = await stat(lockPath);
    const age = Date.now() - st.mtimeMs;
    if (age > staleMs) return true;
    const content = (await readFile(lockPath, 'utf8')).trim();
    // Killed between creating the lock and writing its owner into it.
    if (content === '') return age > EMPTY_LOCK_GRACE_MS;
    const m = /^(\d+):(.*)$/.exec(content);
    if (!m || m[2] !== localHostname()) return false;
    const pid = Number(m[1]);
    // Our own pid on a lock made before this process started: a previous run with the same pid left it.
    if (pid === process.pid) return st.mtimeMs < Date.now() - process.uptime() * 1000;
    if (!pidAlive(pid)) return true;
    // The pid lives, but as a process started after the lock was made (the owner died and its pid was given again).
    // A second of slack: the lock's mtime and the start time have different clocks' precision.
    const startedAt = processStartedAt(pid);
    return startedAt !== undefined && startedAt > st.mtimeMs + 1000;
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

  /** Removes the lock with a direct system call (a local metadata change, as Dovecot makes it). */
  release(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.released = true;
    try {
      unlinkSync(this.lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return Promise.reject(err as Error);
    }
    return Promise.resolve();
  }
}

/**
 * Creates the lock file with O_EXCL and writes the owner into it: true when this process now holds the lock, false
 * when it exists. Direct system calls (microseconds on a local disk, as Dovecot makes them): a trip through the
 * thread pool for each would cost more than the calls themselves.
 */
function tryCreateLock(lockPath: string): boolean {
  let fd: number;
  try {
    fd = openSync(lockPath, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${process.pid}:${localHostname()}`);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(lockPath);
    } catch {
      // gone already
    }
    throw err;
  }
  closeSync(fd);
  return true;
}

/** Takes `<path>.lock`, waiting with back-off up to `timeoutMs`, then fails with INUSE. */
export async function acquireDotlock(path: string, opts: DotlockOptions = UIDLIST_LOCK_OPTIONS): Promise<Dotlock> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + opts.timeoutMs;
  let delay = 2;
  for (;;) {
    // As Dovecot's file-dotlock with dotlock_use_excl (its default): O_EXCL creates the lock, then the owner is
    // written into it. A lock seen empty (its owner between the two steps, or killed there) is judged by its age.
    if (tryCreateLock(lockPath)) return new Dotlock(lockPath);
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
