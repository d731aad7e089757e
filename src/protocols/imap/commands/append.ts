// APPEND (RFC 9051 section 6.3.12, RFC 3501 6.3.11) with flags and internal date, APPENDUID (RFC 4315 UIDPLUS),
// MULTIAPPEND (RFC 3502: all messages or none), TRYCREATE, APPENDLIMIT (RFC 7889) and big literals streamed
// to a spool file while they are read, then into storage; UTF8 (literal8) data (RFC 6855 section 4) once UTF8=ACCEPT is
// enabled, and CATENATE (RFC 4469) messages built from TEXT and URL parts before anything is saved.
import { isStorageError } from '../../../storage/api.js';
import { SequenceSet } from '../../../lib/sequence-set.js';
import { parseAppendArgs, type AppendMessage } from '../proto/append-args.js';
import { formatMailbox } from '../proto/response.js';
import type { ImapCommand } from '../proto/command-reader.js';
import { bad, no, ok, type Completion, type ImapCommandSpec, type ImapSessionApi } from '../types.js';
import { SPOOL_THRESHOLD_BYTES, SpooledLiteral } from './append-spool.js';
import { buildCatenated } from '../catenate/catenate.js';

function messageData(m: AppendMessage, built: Buffer | undefined): Buffer | NodeJS.ReadableStream {
  if (built) return built;
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
  // UTF8 (literal8) only once the client enabled UTF8=ACCEPT (RFC 6855 section 4).
  if (messages.some((m) => m.utf8) && !s.enabled.has('UTF8=ACCEPT')) return bad('UTF8 APPEND data needs UTF8=ACCEPT to be enabled.');
  // CATENATE parts are all resolved first: a bad URL leaves the mailbox unchanged (RFC 4469 section 5).
  const built: (Buffer | undefined)[] = [];
  for (const m of messages) {
    if (!m.catenate) {
      built.push(undefined);
      continue;
    }
    const result = await buildCatenated(s, m.catenate, s.ctx.config.imap.imap_max_literal_size);
    if ('fail' in result) return result.fail;
    built.push(result.data);
  }
  if (messages.some((m, i) => (built[i]?.length ?? m.size) === 0)) return no("Can't save a zero byte message.");
  const storage = s.storage!;
  const saved: number[] = [];
  let uidValidity = 0;
  try {
    for (const [i, m] of messages.entries()) {
      if (m.sink instanceof SpooledLiteral) await m.sink.complete();
      const result = await storage.save(mailbox, messageData(m, built[i]), { flags: [...m.flags], ...(m.date ? { internalDate: m.date.date } : {}) });
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
  capabilities: (s) => ['MULTIAPPEND', 'UIDPLUS', `APPENDLIMIT=${s.ctx.config.imap.imap_max_literal_size}`, 'CATENATE'],
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
