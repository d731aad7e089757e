// mbox locking compatible with Postfix local(8) and Dovecot (mbox-lock.c, file-dotlock.c): a "<mbox>.lock" dotlock linked
// into place with its "pid:host" content, refreshed while held; a POSIX fcntl write lock; an in-process mutex; bounded waits give TEMP.
import { link, open, readFile, stat, unlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { createRequire } from 'node:module';
import { AsyncLocalStorage } from 'node:async_hooks';
import { StorageError } from '../../errors.js';
import { getLogger } from '../../../lib/logger.js';

const log = getLogger({ component: 'mbox-lock' });

interface FsExt {
  fcntl(fd: number, cmd: 'setlk' | 'setlkw' | 'getlk', arg: number, cb: (err: NodeJS.ErrnoException | null) => void): void;
  constants: { F_RDLCK: number; F_WRLCK: number; F_UNLCK: number };
}
const fsExt = createRequire(import.meta.url)('fs-ext') as FsExt;

export interface MboxLockOptions {
  /** Give up with TEMP after waiting this long for the dotlock and the fcntl lock together. */
  timeoutMs: number;
  /** A dotlock whose mtime is older than this is someone's leftover and is removed (Dovecot: mbox_dotlock_change_timeout). */
  staleMs: number;
  /** How often a held dotlock is touched so that others do not take it for stale. */
  refreshMs: number;
}

export const DEFAULT_MBOX_LOCK_OPTIONS: MboxLockOptions = { timeoutMs: 30_000, staleMs: 120_000, refreshMs: 30_000 };

/** The name prefix of the temp file a dotlock is written to before it is linked into place (beside the mbox, hidden). */
export function dotlockTempPrefix(mboxPath: string): string {
  return `.${basename(mboxPath)}.roost-lock.`;
}

function fcntlLock(fd: number, type: number): Promise<void> {
  return new Promise((resolve, reject) => fsExt.fcntl(fd, 'setlk', type, (err) => (err ? reject(err) : resolve())));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function sleepUntilRetry(delay: number, deadline: number): Promise<void> {
  const wait = Math.max(1, Math.min(delay, deadline - Date.now()));
  await new Promise((r) => setTimeout(r, wait));
}

/** One acquisition of a SharedMbox's lock; `live` until it is released. */
interface LockHolding {
  live: boolean;
}

/** One open descriptor of one mbox inode, shared by every reader in the process (closing any fd drops fcntl locks). */
export class MboxFileHandle {
  private refs = 1;
  constructor(
    readonly fh: FileHandle,
    readonly ino: bigint,
  ) {}
  /** True while a reader besides the SharedMbox holds this descriptor (an open message being streamed). */
  get readersActive(): boolean {
    return this.refs > 1;
  }
  ref(): this {
    this.refs++;
    return this;
  }
  async unref(): Promise<void> {
    this.refs--;
    if (this.refs === 0) await this.fh.close().catch(() => undefined);
  }
}

/**
 * Process-wide state of one mbox file: the current descriptor, the lock, and whatever the mailbox code caches about the
 * file's content. Every MailboxStore for the same path shares one, so that no second descriptor is ever closed under a lock.
 */
export class SharedMbox {
  private handle?: MboxFileHandle;
  private queue: Promise<void> = Promise.resolve();
  /**
   * The holding of the lock the current async context runs under. Timers and callbacks started under the lock carry
   * the context on after the lock is gone, so a holding is only valid while it is live (released: not held).
   */
  private readonly owner = new AsyncLocalStorage<LockHolding>();
  private dotlockRefresh?: NodeJS.Timeout;
  /** Mailbox-level cache, owned by the mailbox code (cleared whenever the file is replaced). */
  cache: Map<string, unknown> = new Map();

  constructor(
    readonly path: string,
    readonly lockOptions: MboxLockOptions,
  ) {}

  get lockPath(): string {
    return `${this.path}.lock`;
  }

  /** True inside withLock() of this file in the current async context. */
  get held(): boolean {
    return this.owner.getStore()?.live === true;
  }

  /** The descriptor of the file as it is now at `path` (reopened when someone replaced the file). */
  async current(): Promise<MboxFileHandle> {
    const st = await stat(this.path, { bigint: true });
    if (this.handle && this.handle.ino === st.ino) return this.handle;
    if (this.held && this.handle) {
      throw new StorageError('INTERNAL', undefined, new Error(`${this.path} was replaced while locked`));
    }
    const fh = await open(this.path, 'r+');
    const fst = await fh.stat({ bigint: true });
    const old = this.handle;
    this.handle = new MboxFileHandle(fh, fst.ino);
    this.cache.clear();
    await old?.unref();
    return this.handle;
  }

  /** After renaming a new file over the path while locked: lock the new inode, then let the old descriptor go. */
  async replaced(): Promise<void> {
    const fh = await open(this.path, 'r+');
    const fst = await fh.stat({ bigint: true });
    await fcntlLock(fh.fd, fsExt.constants.F_WRLCK).catch((err) => log.warn({ path: this.path, err: (err as Error).message }, 'fcntl on replaced mbox failed'));
    const old = this.handle;
    this.handle = new MboxFileHandle(fh, fst.ino);
    this.cache.clear();
    await old?.unref();
  }

  /** Runs `fn` holding the in-process mutex, the dotlock and the fcntl write lock; reentrant within one async context. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held) return fn();
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    const deadline = Date.now() + this.lockOptions.timeoutMs;
    try {
      await Promise.race([
        previous,
        new Promise<never>((_r, reject) => {
          const t = setTimeout(() => reject(new StorageError('TEMP', 'Mailbox is locked, try again later')), Math.max(0, deadline - Date.now()));
          void previous.then(() => clearTimeout(t));
        }),
      ]);
    } catch (err) {
      void previous.then(release);
      throw err;
    }
    try {
      await this.takeDotlock(deadline);
      try {
        const handle = await this.current().catch((err) => {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StorageError('NOTFOUND', undefined, err);
          throw err;
        });
        await this.takeFcntl(handle, deadline);
        this.dotlockRefresh = setInterval(() => void utimes(this.lockPath, new Date(), new Date()).catch(() => undefined), this.lockOptions.refreshMs);
        this.dotlockRefresh.unref();
        const holding: LockHolding = { live: true };
        try {
          return await this.owner.run(holding, fn);
        } finally {
          holding.live = false;
          clearInterval(this.dotlockRefresh);
          if (this.handle) await fcntlLock(this.handle.fh.fd, fsExt.constants.F_UNLCK).catch(() => undefined);
        }
      } finally {
        await unlink(this.lockPath).catch(() => undefined);
      }
    } finally {
      release();
    }
  }

  /**
   * Takes "<mbox>.lock". Its content ("pid:host") is written to a temp file first and linked into place, so that the
   * lock never exists empty: a process killed half-way leaves either no lock or one whose owner is known to be gone
   * (an empty lock would count as held until it is stale). Where hard links are not supported, O_EXCL create and write.
   */
  private async takeDotlock(deadline: number): Promise<void> {
    const content = `${process.pid}:${hostname()}\n`;
    const temp = join(dirname(this.path), `${dotlockTempPrefix(this.path)}${randomBytes(6).toString('hex')}`);
    try {
      await writeFile(temp, content, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new StorageError('NOTFOUND', undefined, err);
      throw new StorageError('TEMP', undefined, err);
    }
    let useLink = true;
    let delay = 5;
    try {
      for (;;) {
        try {
          if (useLink) await link(temp, this.lockPath);
          else await writeFile(this.lockPath, content, { flag: 'wx', mode: 0o600 });
          return;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (useLink && (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS')) {
            useLink = false;
            continue;
          }
          if (code === 'ENOENT') throw new StorageError('NOTFOUND', undefined, err);
          if (code !== 'EEXIST') throw new StorageError('TEMP', undefined, err);
        }
        if (await this.dotlockIsStale()) {
          log.warn({ lockPath: this.lockPath }, 'overriding stale mbox dotlock');
          await unlink(this.lockPath).catch(() => undefined);
          continue;
        }
        if (Date.now() >= deadline) throw new StorageError('TEMP', 'Mailbox is locked, try again later', new Error(`dotlock ${this.lockPath} held too long`));
        await sleepUntilRetry(delay, deadline);
        delay = Math.min(delay * 2, 200);
      }
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  private async dotlockIsStale(): Promise<boolean> {
    try {
      const st = await stat(this.lockPath);
      if (Date.now() - st.mtimeMs > this.lockOptions.staleMs) return true;
      const m = /^(\d+):(.*)$/.exec((await readFile(this.lockPath, 'utf8')).trim());
      return !!m && m[2] === hostname() && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]));
    } catch {
      return false;
    }
  }

  private async takeFcntl(handle: MboxFileHandle, deadline: number): Promise<void> {
    let delay = 5;
    for (;;) {
      try {
        await fcntlLock(handle.fh.fd, fsExt.constants.F_WRLCK);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EACCES') throw new StorageError('TEMP', undefined, err);
      }
      if (Date.now() >= deadline) throw new StorageError('TEMP', 'Mailbox is locked, try again later', new Error(`fcntl lock on ${this.path} held too long`));
      await sleepUntilRetry(delay, deadline);
      delay = Math.min(delay * 2, 200);
    }
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.unref();
  }
}

const registry = new Map<string, { shared: SharedMbox; users: number }>();

/** The process-wide SharedMbox for a path; release() when the mailbox object goes away. */
export function acquireSharedMbox(path: string, opts: MboxLockOptions): { shared: SharedMbox; release(): Promise<void> } {
  let entry = registry.get(path);
  if (!entry) {
    entry = { shared: new SharedMbox(path, opts), users: 0 };
    registry.set(path, entry);
  }
  entry.users++;
  const e = entry;
  let released = false;
  return {
    shared: e.shared,
    release: async () => {
      if (released) return;
      released = true;
      e.users--;
      if (e.users === 0 && registry.get(path) === e) {
        registry.delete(path);
        await e.shared.close();
      }
    },
  };
}

/** Drops the shared state of a path whose file was deleted or renamed away. */
export async function forgetSharedMbox(path: string): Promise<void> {
  const e = registry.get(path);
  if (!e) return;
  registry.delete(path);
  await e.shared.close();
}
