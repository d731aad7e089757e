// Delivery to a "/file" alias target as Postfix's local(8): appended to an mbox under Roost's mbox locks (dotlock +
// fcntl, lock.ts), fsynced, cut back on failure; a path ending in "/" is a maildir (tmp/ -> new/, fsynced).
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { acquireSharedMbox, DEFAULT_MBOX_LOCK_OPTIONS } from '../storage/backends/mbox/lock.js';
import { StorageError } from '../storage/errors.js';

export type FileResult = { ok: true; text: string } | { ok: false; dsn: string; text: string };

export interface FileRequest {
  /** Absolute path; one ending in "/" is a maildir. */
  path: string;
  /** Unique part of a maildir file name for this queue id and recipient (what alreadyInFile looks for). */
  tag: string;
  /** Bytes that are in the file only when this delivery happened (the queue id in the Received header). */
  marker: string;
}

export function isMaildirPath(path: string): boolean {
  return path.endsWith('/');
}

/** Postfix's mbox_dsn(): which errors are worth retrying. */
function failure(err: unknown, what: string): FileResult {
  const cause = err instanceof StorageError ? (err.cause ?? err) : err;
  const code = (cause as NodeJS.ErrnoException)?.code;
  const reason = (cause as Error)?.message ?? String(cause);
  if (err instanceof StorageError && err.code === 'TEMP') return { ok: false, dsn: '4.2.0', text: `cannot lock ${what}: ${reason}` };
  const dsn = code === 'EAGAIN' || code === 'ESTALE' || code === 'EWOULDBLOCK' ? '4.2.0' : code === 'ENOSPC' ? '4.3.0' : code === 'EDQUOT' || code === 'EFBIG' ? '5.2.2' : '5.2.0';
  return { ok: false, dsn, text: `cannot append message to ${what}: ${reason}` };
}

async function writeAll(fh: Awaited<ReturnType<typeof open>>, data: AsyncIterable<Buffer>, start: number): Promise<number> {
  let pos = start;
  for await (const chunk of data) {
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, pos);
      done += bytesWritten;
      pos += bytesWritten;
    }
  }
  return pos;
}

/** Asked under the lock, right before anything is written: true when the delivery is no longer wanted. */
export type Abandoned = () => boolean;

const ABANDONED: FileResult = { ok: false, dsn: '4.3.0', text: 'delivery abandoned: Roost went away' };

/** Appends to an mbox file (created 0600 when missing) under its locks; durable before it returns ok. */
async function appendToMbox(path: string, data: AsyncIterable<Buffer>, abandoned: Abandoned): Promise<FileResult> {
  try {
    const create = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    const st = await create.stat();
    await create.close();
    if (!st.isFile()) return { ok: false, dsn: '5.2.0', text: `cannot append message to file ${path}: not a regular file` };
  } catch (err) {
    return failure(err, `file ${path}`);
  }
  const { shared, release } = acquireSharedMbox(path, DEFAULT_MBOX_LOCK_OPTIONS);
  try {
    return await shared.withLock(async () => {
      if (abandoned()) return ABANDONED;
      const { fh } = await shared.current();
      const size = (await fh.stat()).size;
      try {
        let start = size;
        if (size > 0) {
          const last = Buffer.alloc(1);
          await fh.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) start += (await fh.write(Buffer.from('\n'), 0, 1, size)).bytesWritten;
        }
        await writeAll(fh, data, start);
        await fh.sync();
        return { ok: true, text: `delivered to file: ${path}` } as FileResult;
      } catch (err) {
        // Nothing was acknowledged: the file goes back to its old length, as local(8) does.
        await fh.truncate(size).catch(() => undefined);
        await fh.sync().catch(() => undefined);
        return failure(err, `file ${path}`);
      }
    });
  } catch (err) {
    return failure(err, `file ${path}`);
  } finally {
    await release();
  }
}

/** Maildir file name: time, this delivery's tag, pid, host ("/" and ":" escaped as maildir wants). */
function maildirName(tag: string): string {
  const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
  return `${Math.floor(Date.now() / 1000)}.${tag}P${process.pid}.${host}`;
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes to <dir>/tmp, fsyncs, renames into <dir>/new and fsyncs new/ (the directories are made 0700 when missing). */
async function deliverToMaildir(dir: string, tag: string, data: AsyncIterable<Buffer>, abandoned: Abandoned): Promise<FileResult> {
  const name = maildirName(tag);
  const tmp = join(dir, 'tmp', name);
  try {
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await writeAll(fh, data, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (abandoned()) {
      await unlink(tmp).catch(() => undefined);
      return ABANDONED;
    }
    await rename(tmp, join(dir, 'new', name));
    await fsyncPath(join(dir, 'new'));
    return { ok: true, text: `delivered to maildir: ${dir}` };
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    return failure(err, `maildir ${dir}`);
  }
}

/** Delivers the prepared bytes (localCopy()) to the file or maildir. */
export function deliverToFile(req: FileRequest, data: AsyncIterable<Buffer>, abandoned: Abandoned = () => false): Promise<FileResult> {
  return isMaildirPath(req.path) ? deliverToMaildir(req.path, req.tag, data, abandoned) : appendToMbox(req.path, data, abandoned);
}

/** Whether the bytes of `needle` occur in the file (read in pieces that overlap by the needle's length). */
async function fileContains(path: string, needle: Buffer): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(1024 * 1024);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead <= 0) return false;
      if (buf.subarray(0, bytesRead).includes(needle)) return true;
      if (bytesRead < buf.length) return false;
      pos += bytesRead - needle.length;
    }
  } finally {
    await fh.close();
  }
}

/** After a crash: whether this delivery already reached the file (its marker) or maildir (a file with its tag). */
export async function alreadyInFile(req: FileRequest): Promise<boolean> {
  if (!isMaildirPath(req.path)) return fileContains(req.path, Buffer.from(req.marker));
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(req.path, sub)).catch(() => [] as string[]);
    if (names.some((n) => n.includes(`.${req.tag}P`))) return true;
  }
  return false;
}
