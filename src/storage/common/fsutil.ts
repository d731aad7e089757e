// Durable file-system primitives shared by the storage backends: write to a temp file, fsync, rename into
// place, fsync the directory (nothing is acknowledged before it is durable), and a small in-process mutex.
import { fdatasync, writev } from 'node:fs';
import { open, rename, unlink, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** fsyncs a directory so that a rename or unlink inside it survives a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `data` to `path` atomically: temp file beside it, fsync, rename, fsync of the directory (when `fsync`). */
export async function writeFileDurable(path: string, data: string | Buffer, opts: { fsync: boolean; mode?: number }): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.${process.pid}.tmp`);
  const handle = await open(tmp, 'wx', opts.mode ?? 0o600);
  try {
    await handle.writeFile(data);
    if (opts.fsync) await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  if (opts.fsync) await fsyncDir(dirname(path));
}

/** Appends `data` to an existing file and flushes it (fdatasync: the data and the new size; when `fsync`). */
export async function appendFileDurable(path: string, data: string | Buffer, opts: { fsync: boolean }): Promise<void> {
  const handle = await open(path, 'a');
  try {
    await handle.appendFile(data);
    if (opts.fsync) await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Writes every byte of `buffers` to `fd` through the thread pool, going on after a short write. */
export async function writeAllv(fd: number, buffers: Buffer[]): Promise<void> {
  const rest = buffers.filter((b) => b.length > 0);
  while (rest.length) {
    let written = await new Promise<number>((resolve, reject) => writev(fd, rest, (err, n) => (err ? reject(err) : resolve(n))));
    while (rest.length && written >= rest[0]!.length) written -= rest.shift()!.length;
    if (written > 0) rest[0] = rest[0]!.subarray(written);
  }
}

/** fdatasync(2) of a raw descriptor through the thread pool. */
export function fdatasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}

let cachedHostname: string | undefined;
let cachedMaildirHostname: string | undefined;

/** The host name, read once per process as Dovecot's my_hostname (each os.hostname() is a uname system call). */
export function localHostname(): string {
  cachedHostname ??= hostname();
  return cachedHostname;
}

/** The host name as Dovecot puts it into Maildir file names: '/' and ':' escaped as \057 and \072. */
export function maildirHostname(): string {
  cachedMaildirHostname ??= localHostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
  return cachedMaildirHostname;
}

/** Serialises async critical sections within this process (fcntl-free; cross-process exclusion uses dotlocks). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/**
 * One Mutex per key (a file's path) for the whole process: sessions of one user that each open their own storage
 * still take turns at that user's files. A key's entry lives while someone holds or waits for it.
 */
export class KeyedMutex {
  private readonly entries = new Map<string, { mutex: Mutex; users: number }>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { mutex: new Mutex(), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    try {
      return await entry.mutex.run(fn);
    } finally {
      if (--entry.users === 0) this.entries.delete(key);
    }
  }
}
