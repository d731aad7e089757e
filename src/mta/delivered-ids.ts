// Crash recovery of deliveries to Roost's LMTP: which queue ids already reached a user's INBOX, from the "id
// <queue id>" of the Received: headers (RFC 5321 4.4) of its newest messages. Each user's INBOX is read once (the
// newest `window` messages), then only for messages that arrived since, so many messages left in flight by a
// crash cost one scan per user, not one per message.
import type { MailboxSession, MailUserInfo, MessageContent } from '../storage/api.js';
import { headerBlock } from './bounce.js';

interface Seen {
  uidValidity: number;
  lastUid: number;
  ids: Set<string>;
  at: number;
}

const ID = /\sid ([0-9A-Za-z]+)\b/g;

/** The trace headers are at the top: the first 64 KiB of a message is all that is read. */
const HEAD_BYTES = 64 * 1024;

async function head(content: MessageContent): Promise<Buffer> {
  if (content.size <= HEAD_BYTES) return content.read();
  const chunks: Buffer[] = [];
  for await (const chunk of content.stream(0, HEAD_BYTES)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export class DeliveredIds {
  private readonly users = new Map<string, Seen>();

  constructor(
    /** Runs `fn` on the user's INBOX opened read-only. */
    private readonly withInbox: <T>(user: MailUserInfo, fn: (box: MailboxSession) => Promise<T>) => Promise<T>,
    private readonly window = 500,
    private readonly ttlMs = 60_000,
  ) {}

  /** Whether a message with this queue id is in the user's INBOX (among its newest `window` when first looked at). */
  has(user: MailUserInfo, queueId: string): Promise<boolean> {
    return this.withInbox(user, async (box) => {
      let seen = this.users.get(user.user);
      const now = Date.now();
      if (!seen || seen.uidValidity !== box.uidValidity || now - seen.at > this.ttlMs) {
        seen = { uidValidity: box.uidValidity, lastUid: 0, ids: new Set(), at: now };
        this.users.set(user.user, seen);
      }
      const all = box.messages();
      const fresh = seen.lastUid === 0 ? all.slice(-this.window) : all.filter((m) => m.uid > seen!.lastUid);
      for (const meta of fresh) {
        const content = await box.openMessage(meta.uid).catch(() => undefined);
        if (!content) continue; // expunged meanwhile
        for (const m of headerBlock(await head(content)).toString('latin1').matchAll(ID)) seen.ids.add(m[1]!);
        seen.lastUid = Math.max(seen.lastUid, meta.uid);
      }
      seen.at = now;
      return seen.ids.has(queueId);
    });
  }
}
