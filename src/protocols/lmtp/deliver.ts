// LMTP delivery of one message to each recipient's mailbox through the storage API (the same save path as
// IMAP APPEND): a reply per recipient, 250 only after the save is durable, quota as 552 (or 452 by config).
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ServerContext } from '../../server/context.js';
import type { UserRecord } from '../../auth/service.js';
import { openUserStorage, type UserStorage } from '../../storage/api.js';
import { traceHeaders } from './trace-headers.js';
import { getLogger } from '../../lib/logger.js';

const log = getLogger({ component: 'lmtp' });

export interface Recipient {
  address: string;
  user: UserRecord;
  detail?: string;
}

export interface Envelope {
  sender: string;
  clientHelo: string;
  clientIp: string;
  sessionId: string;
}

/** The message grew past the size limit while it was being received. */
export class MessageTooBig extends Error {}

/** Counts bytes on the way through and fails the stream once they pass the limit. */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.limit > 0 && this.seen > this.limit) return cb(new MessageTooBig(`message over ${this.limit} bytes`));
    cb(null, chunk);
  }
}

/**
 * Users' stores stay open for a little while after a delivery, so a burst of mail for the same users does not
 * open and close the store (and its index) for every message.
 */
class OpenStores {
  private readonly entries = new Map<string, { storage: Promise<UserStorage>; users: number; timer?: NodeJS.Timeout }>();
  constructor(private readonly idleMs: number) {}

  async with<T>(ctx: ServerContext, user: UserRecord, fn: (s: UserStorage) => Promise<T>): Promise<T> {
    let entry = this.entries.get(user.user);
    if (!entry) {
      entry = { storage: openUserStorage(user, ctx.storage), users: 0 };
      this.entries.set(user.user, entry);
      entry.storage.catch(() => this.entries.delete(user.user));
    }
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.users++;
    const held = entry;
    try {
      return await fn(await held.storage);
    } finally {
      held.users--;
      if (held.users === 0) {
        held.timer = setTimeout(() => {
          if (this.entries.get(user.user) === held && held.users === 0) {
            this.entries.delete(user.user);
            void held.storage.then((s) => s.close()).catch(() => undefined);
          }
        }, this.idleMs);
        held.timer.unref();
      }
    }
  }
}

const stores = new OpenStores(10_000);

async function saveFor(ctx: ServerContext, r: Recipient, env: Envelope, body: () => Readable): Promise<string | Error> {
  const header = traceHeaders({ sender: env.sender, recipient: r.address, clientHelo: env.clientHelo, clientIp: env.clientIp, hostName: ctx.hostName, sessionId: env.sessionId });
  const withHeader = Readable.from(
    (async function* () {
      yield header;
      for await (const chunk of body()) yield chunk as Buffer;
    })(),
  );
  try {
    return await stores.with(ctx, r.user, async (storage) => {
      let mailbox = 'INBOX';
      if (r.detail && ctx.config.lmtp.lmtp_save_to_detail_mailbox) {
        const match = (await storage.listMailboxes()).find((b) => b.name === r.detail && !b.noSelect);
        if (match) mailbox = match.name;
      }
      const saved = await storage.save(mailbox, withHeader, { envelopeSender: env.sender });
      log.info({ user: r.user.user, mailbox, uid: saved.uid, session: env.sessionId }, 'saved');
      return `2.0.0 <${r.address}> ${env.sessionId} Saved`;
    });
  } catch (err) {
    if (err instanceof MessageTooBig || (err as { cause?: unknown }).cause instanceof MessageTooBig) {
      return Object.assign(new Error('5.3.4 Message too big for system'), { responseCode: 552 });
    }
    const code = (err as { code?: string }).code;
    if (code === 'NOQUOTA') {
      const temp = ctx.config.lmtp.quota_full_tempfail;
      return Object.assign(new Error(`${temp ? '4.2.2' : '5.2.2'} <${r.address}> Quota exceeded (mailbox for user is full)`), { responseCode: temp ? 452 : 552 });
    }
    log.error({ user: r.user.user, err: (err as Error).message }, 'save failed');
    return Object.assign(new Error(`4.2.0 <${r.address}> Temporary internal error`), { responseCode: 451 });
  }
}

/**
 * Delivers the DATA stream to every recipient and returns one result per recipient, in order: a 250 text,
 * or an Error with responseCode. One recipient: the stream goes straight into the store. Several: it is
 * spooled once to a private temp file, then saved from there for each, all at once.
 */
export async function deliverMessage(ctx: ServerContext, stream: NodeJS.ReadableStream, recipients: Recipient[], env: Envelope, sizeLimit: number): Promise<(string | Error)[]> {
  const limited = () => (stream as Readable).pipe(new SizeLimit(sizeLimit));
  if (recipients.length === 1) {
    const result = await saveFor(ctx, recipients[0]!, env, limited);
    // Whatever happened, the rest of DATA must be read so the LMTP session can go on.
    (stream as Readable).resume();
    return [result];
  }
  const dir = join(ctx.dataDir, 'tmp');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `lmtp-${process.pid}-${env.sessionId}-${Date.now()}`);
  try {
    try {
      await pipeline(limited(), createWriteStream(path, { mode: 0o600 }));
    } catch (err) {
      (stream as Readable).resume();
      if (err instanceof MessageTooBig) return recipients.map(() => Object.assign(new Error('5.3.4 Message too big for system'), { responseCode: 552 }));
      throw err;
    }
    // The recipients' saves run side by side: each waits for its own fsyncs, and saves into one mailbox still take
    // its lock in turn.
    return await Promise.all(recipients.map((r) => saveFor(ctx, r, env, () => createReadStream(path))));
  } finally {
    await rm(path, { force: true });
  }
}
