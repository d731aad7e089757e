// What Postfix's cleanup(8) does between the edge and the queue: the Received: trace header (RFC 5321
// section 4.4), recipients flattened from alias/virtual expansion with ORCPT kept (RFC 3461), one durable queue file.
import type { Readable } from 'node:stream';
import { rfc5322Date } from '../protocols/lmtp/trace-headers.js';
import type { QueueStore, EnqueueResult } from './queue-store.js';
import type { QueueEnvelope, QueueRecipient } from './queue-file.js';
import { targetKey, type ResolvedTarget } from './addresses.js';

export interface TraceInfo {
  helo: string;
  ip: string;
  hostName: string;
  /** SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848), or "local" for sendmail. */
  protocol: string;
  queueId: string;
  recipient?: string;
  date: Date;
  localUser?: string;
}

export function receivedHeader(t: TraceInfo): Buffer {
  const lines =
    t.protocol === 'local'
      ? [`Received: by ${t.hostName} (Roost, from userid ${t.localUser ?? 'unknown'})`, `\tid ${t.queueId}${t.recipient ? `\n\tfor <${t.recipient}>` : ''}; ${rfc5322Date(t.date)}`]
      : [`Received: from ${t.helo || 'unknown'} ([${t.ip}])`, `\tby ${t.hostName} (Roost) with ${t.protocol} id ${t.queueId}${t.recipient ? `\n\tfor <${t.recipient}>` : ''}; ${rfc5322Date(t.date)}`];
  return Buffer.from(lines.join('\n').replace(/\n/g, '\r\n') + '\r\n', 'utf8');
}

export interface AcceptedTargets {
  address: string;
  notify?: string[];
  orcpt?: string;
  targets: ResolvedTarget[];
}

/** Flattens expanded recipients into queue recipients (each final address once; /dev/null dropped). */
export function queueRecipients(accepted: AcceptedTargets[]): QueueRecipient[] {
  const seen = new Set<string>();
  const out: QueueRecipient[] = [];
  for (const a of accepted) {
    for (const t of a.targets) {
      if (t.kind === 'discard') continue;
      const key = targetKey(t);
      if (seen.has(key)) continue;
      seen.add(key);
      const original = a.orcpt?.replace(/^rfc822;/i, '') ?? a.address;
      const route = t.kind === 'local' || t.kind === 'command' || t.kind === 'file' ? t.kind : 'remote';
      const target = t.kind === 'command' ? t.command : t.kind === 'file' ? t.path : undefined;
      out.push({ address: t.address, original: original !== t.address ? original : undefined, notify: a.notify, route, ...(target ? { target } : {}) });
    }
  }
  return out;
}

export interface QueueMessageInput {
  sender: string;
  recipients: QueueRecipient[];
  client: QueueEnvelope['client'];
  dsnRet?: 'FULL' | 'HDRS';
  envid?: string;
  arrivalTime: number;
  hostName: string;
  content: Readable | AsyncIterable<Buffer | string>;
  maxBytes: number;
  localUser?: string;
}

export function queueMessage(store: QueueStore, m: QueueMessageInput): Promise<EnqueueResult> {
  return store.enqueue(
    (id) => ({ id, sender: m.sender, recipients: m.recipients, arrivalTime: m.arrivalTime, client: m.client, dsnRet: m.dsnRet, envid: m.envid }),
    (id) =>
      receivedHeader({
        helo: m.client.helo,
        ip: m.client.ip,
        hostName: m.hostName,
        protocol: m.client.protocol,
        queueId: id,
        recipient: m.recipients.length === 1 ? m.recipients[0].original ?? m.recipients[0].address : undefined,
        date: new Date(m.arrivalTime),
        localUser: m.localUser,
      }),
    m.content,
    m.maxBytes,
  );
}
