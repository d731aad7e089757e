// LMTP delivery of one spooled message to each recipient's mailbox through the storage API (the same
// save path as IMAP APPEND): a reply per recipient, 250 only after the save is durable, quota as 552/452.
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ServerContext } from '../../server/context.js';
import type { UserRecord } from '../../auth/service.js';
import { openUserStorage } from '../../storage/api.js';
import { traceHeaders } from './trace-headers.js';
import { getLogger } from '../../lib/logger.js';

const log = getLogger({ component: 'lmtp' });

export interface Recipient {
  address: string;
  user: UserRecord;
  detail?: string;
}

export interface Spool {
  path: string;
  remove(): Promise<void>;
}

/** Writes the DATA stream to a private temp file so it can be saved once per recipient without holding it in memory. */
export async function spoolMessage(ctx: ServerContext, stream: NodeJS.ReadableStream, id: string): Promise<Spool> {
  const dir = join(ctx.dataDir, 'tmp');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `lmtp-${process.pid}-${id}`);
  await pipeline(stream, createWriteStream(path, { mode: 0o600 }));
  return { path, remove: () => rm(path, { force: true }) };
}

function withHeaders(header: Buffer, path: string): Readable {
  return Readable.from(
    (async function* () {
      yield header;
      for await (const chunk of createReadStream(path)) yield chunk as Buffer;
    })(),
  );
}

export interface Envelope {
  sender: string;
  clientHelo: string;
  clientIp: string;
  sessionId: string;
}

/** Returns one entry per recipient, in order: a 250 text, or an Error with responseCode. */
export async function deliverSpooled(ctx: ServerContext, spool: Spool, recipients: Recipient[], env: Envelope): Promise<(string | Error)[]> {
  const results: (string | Error)[] = [];
  for (const r of recipients) {
    const header = traceHeaders({ sender: env.sender, recipient: r.address, clientHelo: env.clientHelo, clientIp: env.clientIp, hostName: ctx.hostName, sessionId: env.sessionId });
    try {
      const storage = await openUserStorage(r.user, ctx.storage);
      try {
        let mailbox = 'INBOX';
        if (r.detail && ctx.config.lmtp.lmtp_save_to_detail_mailbox) {
          const boxes = await storage.listMailboxes();
          const match = boxes.find((b) => b.name === r.detail);
          if (match) mailbox = match.name;
        }
        const saved = await storage.save(mailbox, withHeaders(header, spool.path), { envelopeSender: env.sender });
        log.info({ user: r.user.user, mailbox, uid: saved.uid, session: env.sessionId }, 'saved');
        results.push(`2.0.0 <${r.address}> ${env.sessionId} Saved`);
      } finally {
        await storage.close();
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'NOQUOTA') {
        const temp = ctx.config.lmtp.quota_full_tempfail;
        results.push(Object.assign(new Error(`${temp ? '4.2.2' : '5.2.2'} <${r.address}> Quota exceeded (mailbox for user is full)`), { responseCode: temp ? 452 : 552 }));
      } else {
        log.error({ user: r.user.user, err: (err as Error).message }, 'save failed');
        results.push(Object.assign(new Error(`4.2.0 <${r.address}> Temporary internal error`), { responseCode: 451 }));
      }
    }
  }
  return results;
}
