// One queue file per message, as Postfix's queue files: a fixed header with the content length, the content
// (trace headers + RFC 5322 message), the envelope (RFC 5321 MAIL/RCPT with RFC 3461 DSN parameters) and
// appended status records, so a recipient's outcome is made durable with one append + fdatasync.
import { closeSync, fdatasync, fsync, fsyncSync, openSync, readSync, writeSync, writevSync, fstatSync, createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export const MAGIC = 'ROOSTQ1 ';
/** "ROOSTQ1 " + 16 digits of content length + "\n". */
export const HEADER_LENGTH = MAGIC.length + 16 + 1;

export interface QueueRecipient {
  /** The address mail goes to (after alias and virtual expansion). */
  address: string;
  /** The address the client gave at RCPT (RFC 3461 ORCPT), when expansion changed it. */
  original?: string;
  /** RFC 3461 NOTIFY values (NEVER, SUCCESS, FAILURE, DELAY). */
  notify?: string[];
  /**
   * Local recipients go to the LMTP target; remote ones through transport_maps, relayhost or MX; "command" and
   * "file" are alias targets delivered by the local delivery agent (local-agent.ts) to `target`.
   */
  route: 'local' | 'remote' | 'command' | 'file';
  /** The command (without the "|") or the file or maildir path ("/dir/" for a maildir) of a command or file route. */
  target?: string;
}

export interface QueueEnvelope {
  id: string;
  /** The reverse-path; "" is the null sender of bounces. */
  sender: string;
  recipients: QueueRecipient[];
  /** Queue-clock milliseconds at arrival. */
  arrivalTime: number;
  client: { ip: string; helo: string; user?: string; protocol: string };
  /** RFC 3461 RET and ENVID. */
  dsnRet?: 'FULL' | 'HDRS';
  envid?: string;
  /** The message is a delivery status notification: its failures are never bounced. */
  isBounce?: boolean;
}

export type QueueRecord =
  /** Delivery to these recipients is about to start (LMTP exactly-once bookkeeping). */
  | { t: 'inflight'; r: number[]; at: number }
  /** Final outcome for these recipients. */
  | { t: 'done'; r: number[]; status: 'sent' | 'bounced' | 'discarded'; dsn: string; relay: string; text: string; at: number }
  /** A deferral: the next attempt time and why. */
  | { t: 'defer'; r: number[]; dsn: string; relay: string; text: string; next: number; at: number }
  /** A delay warning was sent. */
  | { t: 'warned'; at: number }
  /** The sender was told about the bounced recipients (the DSN is queued). */
  | { t: 'notified'; at: number };

export interface QueueFileState {
  envelope: QueueEnvelope;
  records: QueueRecord[];
  contentLength: number;
  /** Recipient indexes with a final outcome. */
  finished: Set<number>;
  /** Recipients marked inflight without a final outcome after it (a delivery may or may not have happened). */
  uncertain: Map<number, number>;
  nextAttempt: number;
  lastDefer?: Extract<QueueRecord, { t: 'defer' }>;
  warned: boolean;
  notified: boolean;
}

export class CorruptQueueFile extends Error {}

/** Content up to this size is written in one piece and handed back, so the queue manager need not read it again. */
export const SMALL_CONTENT = 256 * 1024;

/** fdatasync on the thread pool: the only step of a queue write that waits for the disk. */
export function datasyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

/** fsync on the thread pool (directories). */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * Writes a queue file from a content stream: header, content, envelope; fdatasync'ed before it resolves. The
 * content's chunks are written as they are with writev (never copied together); when the content is small it comes
 * back as those chunks. Opening, writing (into the page cache) and closing are synchronous, as they take
 * microseconds; only the fdatasync goes to the thread pool, so a queue write costs one pool job instead of four.
 * The file is created at the first write: a message refused for its size leaves nothing behind.
 */
export async function writeQueueFile(
  path: string,
  prefix: Buffer,
  content: AsyncIterable<Buffer | string> | Readable,
  envelope: QueueEnvelope,
  maxBytes = Infinity,
): Promise<{ contentLength: number; exceeded: boolean; content?: Buffer[] }> {
  let fd: number | undefined;
  try {
    const chunks: Buffer[] = [prefix];
    let pendingBytes = prefix.length;
    let position = HEADER_LENGTH;
    /** Writes the chunks gathered so far after the header (whose length field is written last). */
    const flush = () => {
      fd ??= openSync(path, 'wx', 0o600);
      writevAll(fd, chunks, position);
      position += pendingBytes;
      chunks.length = 0;
      pendingBytes = 0;
    };
    let length = prefix.length;
    let exceeded = false;
    for await (const chunk of content as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      length += buf.length;
      if (length > maxBytes) {
        exceeded = true;
        continue; // keep draining the stream, store nothing more
      }
      chunks.push(buf);
      pendingBytes += buf.length;
      if (pendingBytes >= SMALL_CONTENT) flush();
    }
    if (exceeded) return { contentLength: length, exceeded };
    // Small content is all still here: it goes in one writev with the header, and back to the caller.
    const small = fd === undefined ? chunks.slice() : undefined;
    chunks.push(Buffer.from('\nE ' + JSON.stringify(envelope) + '\n'));
    pendingBytes += chunks[chunks.length - 1]!.length;
    const header = Buffer.from(MAGIC + String(length).padStart(16, '0') + '\n', 'latin1');
    if (fd === undefined) {
      chunks.unshift(header);
      pendingBytes += header.length;
      position = 0;
      flush();
    } else {
      flush();
      writeAll(fd, header, 0);
    }
    await datasyncFd(fd!);
    return { contentLength: length, exceeded, content: small };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** writeSync until the whole buffer is written (a regular file takes it in one call; the loop is for the rule). */
function writeAll(fd: number, buf: Buffer, position: number): void {
  for (let done = 0; done < buf.length; ) done += writeSync(fd, buf, done, buf.length - done, position + done);
}

/** writevSync of many buffers at `position`, in batches the kernel takes (IOV_MAX), finishing any short write. */
function writevAll(fd: number, buffers: Buffer[], position: number): void {
  for (let i = 0; i < buffers.length; i += 512) {
    const batch = buffers.slice(i, i + 512);
    const want = batch.reduce((n, b) => n + b.length, 0);
    let done = writevSync(fd, batch, position);
    if (done < want) {
      // A short write: the rest buffer by buffer.
      let offset = 0;
      for (const b of batch) {
        const skip = Math.max(0, Math.min(b.length, done - offset));
        if (skip < b.length) writeAll(fd, b.subarray(skip), position + offset + skip);
        offset += b.length;
      }
      done = want;
    }
    position += done;
  }
}

/** Appends one status record and fsyncs it (synchronously; tools and tests). */
export function appendRecord(path: string, record: QueueRecord): void {
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, 'R ' + JSON.stringify(record) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Appends status records in one write and fdatasyncs them; only the fdatasync leaves the event loop. */
export async function appendRecords(path: string, records: QueueRecord[]): Promise<void> {
  if (records.length === 0) return;
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, records.map((r) => 'R ' + JSON.stringify(r) + '\n').join(''));
    await datasyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** The state of a file just written, without reading it back. */
export function freshState(envelope: QueueEnvelope, contentLength: number): QueueFileState {
  return summarize(envelope, [], contentLength);
}

/** Reads the envelope and records (never the content); throws CorruptQueueFile when it cannot be trusted. */
export function readQueueFile(path: string): QueueFileState {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(HEADER_LENGTH);
    if (readSync(fd, head, 0, HEADER_LENGTH, 0) !== HEADER_LENGTH) throw new CorruptQueueFile('short header');
    const text = head.toString('latin1');
    if (!text.startsWith(MAGIC) || text[HEADER_LENGTH - 1] !== '\n') throw new CorruptQueueFile('bad magic');
    const contentLength = Number(text.slice(MAGIC.length, HEADER_LENGTH - 1));
    const tailStart = HEADER_LENGTH + contentLength;
    if (!Number.isSafeInteger(contentLength) || tailStart > size) throw new CorruptQueueFile('content length beyond the file');
    const tail = Buffer.alloc(size - tailStart);
    readSync(fd, tail, 0, tail.length, tailStart);
    const lines = tail.toString('utf8').split('\n');
    if (lines[0] !== '' || !lines[1]?.startsWith('E ')) throw new CorruptQueueFile('no envelope');
    let envelope: QueueEnvelope;
    try {
      envelope = JSON.parse(lines[1].slice(2)) as QueueEnvelope;
    } catch {
      throw new CorruptQueueFile('unreadable envelope');
    }
    if (!envelope.id || !Array.isArray(envelope.recipients) || typeof envelope.sender !== 'string') throw new CorruptQueueFile('incomplete envelope');
    const records: QueueRecord[] = [];
    for (const line of lines.slice(2)) {
      if (!line.startsWith('R ')) continue; // a torn last append is ignored: its outcome was never acknowledged
      try {
        records.push(JSON.parse(line.slice(2)) as QueueRecord);
      } catch {
        /* torn record */
      }
    }
    return summarize(envelope, records, contentLength);
  } finally {
    closeSync(fd);
  }
}

function summarize(envelope: QueueEnvelope, records: QueueRecord[], contentLength: number): QueueFileState {
  const finished = new Set<number>();
  const uncertain = new Map<number, number>();
  let nextAttempt = 0;
  let lastDefer: QueueFileState['lastDefer'];
  let warned = false;
  let notified = false;
  for (const rec of records) {
    if (rec.t === 'inflight') for (const i of rec.r) uncertain.set(i, rec.at);
    else if (rec.t === 'done') for (const i of rec.r) {
      finished.add(i);
      uncertain.delete(i);
    }
    else if (rec.t === 'defer') {
      for (const i of rec.r) uncertain.delete(i);
      nextAttempt = Math.max(nextAttempt, rec.next);
      lastDefer = rec;
    } else if (rec.t === 'warned') warned = true;
    else if (rec.t === 'notified') notified = true;
  }
  return { envelope, records, contentLength, finished, uncertain, nextAttempt, lastDefer, warned, notified };
}

/** The stored content (trace headers + message). */
export function contentStream(path: string, contentLength: number): Readable {
  if (contentLength === 0) return createReadStream(path, { start: HEADER_LENGTH, end: HEADER_LENGTH - 1 });
  return createReadStream(path, { start: HEADER_LENGTH, end: HEADER_LENGTH + contentLength - 1 });
}
