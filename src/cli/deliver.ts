// `roost deliver USER [-m MAILBOX] [-f SENDER] [-a ADDRESS] < message`: local delivery for MTAs that pipe
// (dovecot-lda): Return-Path and Delivered-To added as LMTP adds them, exit 0 only once the message is durable.
import { Readable } from 'node:stream';
import type { Command } from 'commander';
import { AuthTemporaryError } from '../auth/service.js';
import { isStorageError, openUserStorage } from '../storage/api.js';
import { withCommonOptions, type CommonOptions } from './context.js';
import { loadStorageContext, lookupMailUser, mailUserOf, UnknownUserError } from './storage-user.js';

/** sysexits.h codes an MTA's pipe transport understands (Postfix pipe(8), sendmail prog mailer). */
export const EX_OK = 0;
export const EX_NOUSER = 67;
export const EX_TEMPFAIL = 75;
export const EX_NOPERM = 77;

/** How far to look for the end of the first line (an mbox From_ line the MTA may prepend). */
const FIRST_LINE_LIMIT = 64 * 1024;

export interface LocalDeliveryEnvelope {
  /** -f; else the From_ line's sender; else MAILER-DAEMON (as dovecot-lda). */
  sender?: string;
  /** The Delivered-To address. */
  recipient: string;
}

/** Parses the sender out of an mbox "From sender date" line; undefined for anything else. */
export function senderOfFromLine(line: string): string | undefined {
  const m = /^From (\S+)/.exec(line);
  return m ? m[1] : undefined;
}

/**
 * The message as stored: Return-Path and Delivered-To first, then the input without a leading mbox From_ line.
 * Streams: only the first line is buffered (to see whether it is a From_ line and which line end the message uses).
 */
export async function* withDeliveryHeaders(input: AsyncIterable<Buffer | string>, envelope: LocalDeliveryEnvelope): AsyncGenerator<Buffer> {
  const iterator = input[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.indexOf(0x0a) < 0 && head.length < FIRST_LINE_LIMIT) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value)]);
  }
  const newline = head.indexOf(0x0a);
  const firstLine = head.subarray(0, newline < 0 ? head.length : newline).toString('latin1');
  let fromLineSender: string | undefined;
  if (newline >= 0 && firstLine.startsWith('From ')) {
    fromLineSender = senderOfFromLine(firstLine);
    head = head.subarray(newline + 1);
  }
  const eol = firstLine.endsWith('\r') ? '\r\n' : '\n';
  const sender = envelope.sender ?? fromLineSender ?? 'MAILER-DAEMON';
  const returnPath = sender === '' || sender === '<>' ? '<>' : `<${sender.replace(/^<|>$/g, '')}>`;
  yield Buffer.from(`Return-Path: ${returnPath}${eol}Delivered-To: ${envelope.recipient}${eol}`, 'utf8');
  if (head.length) yield head;
  if (ended) return;
  for (;;) {
    const next = await iterator.next();
    if (next.done) return;
    yield Buffer.isBuffer(next.value) ? next.value : Buffer.from(next.value);
  }
}

interface DeliverOptions extends CommonOptions {
  mailbox: string;
  from?: string;
  address?: string;
}

/** Delivers stdin to USER; resolves to the exit code, with the reason on stderr when it is not 0. */
export async function deliverFromStdin(user: string, opts: DeliverOptions, input: NodeJS.ReadableStream): Promise<number> {
  let quotaTempfail = false;
  try {
    const ctx = loadStorageContext(opts);
    quotaTempfail = ctx.config.lmtp.quota_full_tempfail;
    const record = await lookupMailUser(ctx, user, { asRecipient: true });
    const storage = await openUserStorage(mailUserOf(record), ctx.storageOptions);
    try {
      // dovecot-lda: a -m mailbox that does not exist falls back to INBOX.
      const wanted = opts.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : opts.mailbox;
      const exists = (await storage.listMailboxes()).some((m) => m.name === wanted && !m.noSelect);
      const mailbox = exists ? wanted : 'INBOX';
      if (!exists) process.stderr.write(`roost deliver: mailbox ${opts.mailbox} doesn't exist, delivering to INBOX\n`);
      const message = withDeliveryHeaders(input as AsyncIterable<Buffer>, { sender: opts.from, recipient: opts.address ?? user });
      await storage.save(mailbox, Readable.from(message), {});
    } finally {
      await storage.close();
    }
    return EX_OK;
  } catch (err) {
    if (err instanceof UnknownUserError) {
      process.stderr.write(`roost deliver: ${err.message}\n`);
      return EX_NOUSER;
    }
    if (err instanceof AuthTemporaryError) {
      process.stderr.write(`roost deliver: user lookup failed temporarily: ${err.message}\n`);
      return EX_TEMPFAIL;
    }
    if (isStorageError(err) && err.code === 'NOQUOTA') {
      process.stderr.write('roost deliver: Quota exceeded (mailbox for user is full)\n');
      return quotaTempfail ? EX_TEMPFAIL : EX_NOPERM;
    }
    // Anything else (disk full, a lock held too long, a config error) may pass: let the MTA retry.
    process.stderr.write(`roost deliver: temporary failure: ${(err as Error).message}\n`);
    return EX_TEMPFAIL;
  }
}

export function registerDeliverCommand(program: Command): void {
  withCommonOptions(
    program
      .command('deliver <user>')
      .description('Deliver the message on stdin to USER (like dovecot-lda); exit 0 when stored durably, 67 unknown user, 75 try again, 77 over quota')
      .option('-m, --mailbox <name>', 'mailbox to save to (INBOX when it does not exist)', 'INBOX')
      .option('-f, --from <sender>', 'envelope sender for Return-Path (default: the From_ line, else MAILER-DAEMON)')
      .option('-a, --address <address>', 'recipient address for Delivered-To (default: USER)'),
  ).action(async (user: string, opts: DeliverOptions) => {
    process.exitCode = await deliverFromStdin(user, opts, process.stdin);
  });
}
