// APPEND (RFC 9051 section 6.3.12, RFC 3501 6.3.11) with flags and internal date, APPENDUID (RFC 4315 UIDPLUS),
// MULTIAPPEND (RFC 3502: all messages or none), TRYCREATE, APPENDLIMIT (RFC 7889) and big literals streamed
// to a spool file while they are read, then into storage.
import { isStorageError } from '../../../storage/api.js';
import { SequenceSet } from '../../../lib/sequence-set.js';
import { parseAppendArgs, type AppendMessage } from '../proto/append-args.js';
import { formatMailbox } from '../proto/response.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { no, ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import { SPOOL_THRESHOLD_BYTES, SpooledLiteral } from './append-spool.js';

function messageData(m: AppendMessage): Buffer | NodeJS.ReadableStream {
  if (m.data) return m.data;
  if (m.sink instanceof SpooledLiteral) return m.sink.open();
  throw new Error('APPEND literal was streamed to an unknown sink');
}

/** Takes back messages already saved by a MULTIAPPEND whose later message failed (RFC 3502 section 6.3.11). */
async function removeSaved(s: ImapSessionApi, mailbox: string, uids: number[]): Promise<void> {
  const box = await s.storage!.openMailbox(mailbox);
  try {
    await box.updateFlags(uids, 'add', ['\\Deleted']);
    await box.expunge(uids);
  } finally {
    await box.close();
  }
}

async function append(s: ImapSessionApi, cmd: ImapCommand): Promise<Completion> {
  const { mailbox, messages } = parseAppendArgs(cmd.args, { utf8: s.utf8Names });
  if (messages.some((m) => m.size === 0)) return no("Can't save a zero byte message.");
  const storage = s.storage!;
  const saved: number[] = [];
  let uidValidity = 0;
  try {
    for (const m of messages) {
      if (m.sink instanceof SpooledLiteral) await m.sink.complete();
      const result = await storage.save(mailbox, messageData(m), { flags: [...m.flags], ...(m.date ? { internalDate: m.date.date } : {}) });
      saved.push(result.uid);
      uidValidity = result.uidValidity;
    }
  } catch (err) {
    if (saved.length) {
      try {
        await removeSaved(s, mailbox, saved);
      } catch (cleanupErr) {
        s.log.error({ mailbox, uids: saved, err: (cleanupErr as Error).message }, 'MULTIAPPEND could not take back saved messages');
      }
    }
    if (isStorageError(err, 'NOTFOUND')) return no(`Mailbox doesn't exist: ${formatMailbox(mailbox, { utf8: s.utf8Names })}`, 'TRYCREATE');
    throw err;
  }
  return ok('Append completed.', `APPENDUID ${uidValidity} ${SequenceSet.fromNumbers(saved).toString()}`);
}

export const appendCommand: ImapCommandSpec = {
  name: 'APPEND',
  states: ['authenticated', 'selected'],
  capabilities: (s) => ['MULTIAPPEND', 'UIDPLUS', `APPENDLIMIT=${s.ctx.config.imap.imap_max_literal_size}`],
  onLiteral(s, info) {
    // Only the messages themselves (top-level literals) are spooled; a literal mailbox name stays in memory.
    if (info.depth !== 0 || info.size < SPOOL_THRESHOLD_BYTES) return undefined;
    try {
      return { sink: SpooledLiteral.create(s) };
    } catch (err) {
      s.log.warn({ err: (err as Error).message }, 'cannot spool APPEND literal; buffering it');
      return undefined;
    }
  },
  async run(s, cmd) {
    const spools = cmd.args.flatMap((t) => (t.type === 'streamed-literal' && t.sink instanceof SpooledLiteral ? [t.sink] : []));
    try {
      return await append(s, cmd);
    } finally {
      await Promise.all(spools.map((spool) => spool.dispose()));
    }
  },
};
