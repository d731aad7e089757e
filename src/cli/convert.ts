// `roost convert USER --to maildir|mbox [--location LOC]`: copies a user's store into the other format keeping
// UIDVALIDITY, UIDs, UIDNEXT, flags, keywords, subscriptions and special-use (as Dovecot's `doveadm sync -1` converts).
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, readdir, rename, rm, unlink, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { StorageError } from '../storage/errors.js';
import { UserStorageImpl } from '../storage/user-storage.js';
import { parseMailLocation } from '../storage/location.js';
import type { MailUserInfo, StorageOptions } from '../storage/api.js';
import type { MailboxSessionImpl } from '../storage/mailbox.js';
import { CrlfToLf } from '../storage/common/crlf.js';
import { fsyncDir, writeFileDurable } from '../storage/common/fsutil.js';
import { MaildirUserBackend } from '../storage/backends/maildir/maildir-user.js';
import { flagsToLetters, newBaseFilename, withInfo } from '../storage/backends/maildir/filename.js';
import { MAX_MAILDIR_KEYWORDS, formatKeywordsFile } from '../storage/backends/maildir/keywords.js';
import { formatUidlist, type UidlistRecord } from '../storage/backends/maildir/uidlist.js';
import { KEYWORDS_FILE, UIDLIST_FILE } from '../storage/backends/maildir/maildir-mailbox.js';
import { MboxUserBackend } from '../storage/backends/mbox/mbox-user.js';
import { analyseSaveFile } from '../storage/backends/mbox/mbox-mailbox.js';
import { formatFromLine } from '../storage/backends/mbox/from-line.js';
import { formatMetadataHeaders, formatPseudoMessage, type ImapBase } from '../storage/backends/mbox/metadata.js';
import { withCommonOptions, type CommonOptions } from './context.js';
import { loadStorageContext, lookupMailUser, mailUserOf, reportFailure } from './storage-user.js';

export type StoreFormat = 'maildir' | 'mbox';

export interface ConvertedMailbox {
  source: string;
  target: string;
  messages: number;
}

/** The messages of one source mailbox, in UID order, with what the target must keep. */
interface SourceMailbox {
  session: MailboxSessionImpl;
  uidValidity: number;
  uidNext: number;
}

function keptFlags(flags: readonly string[]): { system: string[]; keywords: string[] } {
  return { system: flags.filter((f) => f.startsWith('\\') && f !== '\\Recent'), keywords: flags.filter((f) => !f.startsWith('\\')) };
}

/** Streams a message (CRLF from the storage API) into `path` with LF line ends, as both formats store mail; durable when `fsync`. */
async function writeMessageFile(session: MailboxSessionImpl, uid: number, path: string, fsync: boolean): Promise<CrlfToLf> {
  const content = await session.openMessage(uid);
  const counter = new CrlfToLf();
  await pipeline(content.stream(), counter, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  if (fsync) {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  return counter;
}

/** Writes a Maildir mailbox: files in cur/ with flag letters, dovecot-keywords, then dovecot-uidlist with the source UIDs. */
async function writeMaildirMailbox(dir: string, box: SourceMailbox, fsync: boolean): Promise<number> {
  const keywordIndexes = new Map<string, number>();
  const keywordNames = new Map<number, string>();
  const records: UidlistRecord[] = [];
  for (const msg of box.session.messages()) {
    const { system, keywords } = keptFlags(msg.flags);
    const indexes = keywords.map((k) => {
      let i = keywordIndexes.get(k.toLowerCase());
      if (i === undefined) {
        i = keywordIndexes.size;
        if (i >= MAX_MAILDIR_KEYWORDS) throw new StorageError('LIMIT', `Mailbox ${box.session.name} uses more than ${MAX_MAILDIR_KEYWORDS} keywords, Maildir holds no more`);
        keywordIndexes.set(k.toLowerCase(), i);
        keywordNames.set(i, k);
      }
      return i;
    });
    const tmpPath = join(dir, 'tmp', `roost-convert.${randomBytes(8).toString('hex')}`);
    try {
      const counter = await writeMessageFile(box.session, msg.uid, tmpPath, fsync);
      const internalDate = new Date(msg.internalDate);
      await utimes(tmpPath, internalDate, internalDate);
      const base = newBaseFilename(counter.physicalSize, counter.virtualSize);
      await rename(tmpPath, join(dir, 'cur', withInfo(base, flagsToLetters(system, indexes))));
      records.push({ uid: msg.uid, filename: base, ext: new Map() });
    } catch (err) {
      await unlink(tmpPath).catch(() => undefined);
      throw err;
    }
  }
  if (fsync) await fsyncDir(join(dir, 'cur'));
  if (keywordNames.size) await writeFileDurable(join(dir, KEYWORDS_FILE), formatKeywordsFile(keywordNames), { fsync });
  const uidlist = formatUidlist({ version: 3, uidValidity: box.uidValidity, nextUid: box.uidNext, guid: randomBytes(16).toString('hex'), headerExt: [], records });
  await writeFileDurable(join(dir, UIDLIST_FILE), uidlist, { fsync });
  return records.length;
}

/**
 * Writes an mbox file as Dovecot's save writes one: From_ line, the message's own header without hidden headers,
 * X-IMAPbase (first message) / X-UID / Status / X-Status / X-Keywords / Content-Length, body. An empty mailbox gets
 * Dovecot's pseudo message, which keeps UIDVALIDITY and UIDNEXT. Built in a temp file and renamed over the empty one.
 */
async function writeMboxMailbox(path: string, box: SourceMailbox, fsync: boolean): Promise<number> {
  const messages = box.session.messages();
  const keywords: string[] = [];
  for (const msg of messages) for (const k of keptFlags(msg.flags).keywords) if (!keywords.some((x) => x.toLowerCase() === k.toLowerCase())) keywords.push(k);
  const base: ImapBase = { uidValidity: box.uidValidity, lastUid: box.uidNext - 1, keywords };
  const dir = dirname(path);
  const tmpMbox = join(dir, `.${basename(path)}.roost-convert.${randomBytes(6).toString('hex')}`);
  const out = await open(tmpMbox, 'wx', 0o600);
  try {
    if (messages.length === 0) await out.write(formatPseudoMessage(base, new Date(), hostname()), null, 'latin1');
    for (const [i, msg] of messages.entries()) {
      const { system, keywords: own } = keptFlags(msg.flags);
      const tmpMessage = join(dir, `.${basename(path)}.roost-convert-msg.${randomBytes(6).toString('hex')}`);
      try {
        const counter = await writeMessageFile(box.session, msg.uid, tmpMessage, false);
        const layout = await analyseSaveFile(tmpMessage, counter.physicalSize);
        const src = await open(tmpMessage, 'r');
        try {
          const parts: Buffer[] = [];
          for (const [s, e] of layout.headerRanges) {
            const b = Buffer.alloc(e - s);
            await src.read(b, 0, b.length, s);
            parts.push(b);
          }
          let header = Buffer.concat(parts);
          if (header.length > 0 && header[header.length - 1] !== 0x0a) header = Buffer.concat([header, Buffer.from('\n')]);
          const meta = formatMetadataHeaders({ imapBase: i === 0 ? base : undefined, uid: msg.uid, flags: [...system, ...own], notRecent: true, contentLength: layout.bodyEnd - layout.bodyStart });
          await out.write(Buffer.from(formatFromLine('MAILER-DAEMON', new Date(msg.internalDate)), 'latin1'));
          await out.write(Buffer.concat([header, Buffer.from(meta + '\n', 'latin1')]));
          const body = Buffer.alloc(layout.bodyEnd - layout.bodyStart);
          await src.read(body, 0, body.length, layout.bodyStart);
          await out.write(body);
          await out.write(Buffer.from('\n'));
        } finally {
          await src.close();
        }
      } finally {
        await unlink(tmpMessage).catch(() => undefined);
      }
    }
    if (fsync) await out.sync();
  } catch (err) {
    await out.close();
    await unlink(tmpMbox).catch(() => undefined);
    throw err;
  }
  await out.close();
  await rename(tmpMbox, path);
  if (fsync) await fsyncDir(dir);
  return messages.length;
}

/** The name in the target's hierarchy separator; a name part holding that separator cannot be converted. */
function targetName(name: string, from: string, to: string): string {
  if (name === 'INBOX' || from === to) return name;
  const parts = name.split(from);
  if (parts.some((p) => p.includes(to))) throw new StorageError('BADNAME', `Mailbox name ${name} contains "${to}", the target's hierarchy separator`);
  return parts.join(to);
}

/** A location for `format` in the data directory, beside the default one (what `--location` replaces). */
export function defaultTargetLocation(format: StoreFormat, dataDir: string, user: string): string {
  const dir = join(dataDir, 'mail', user.replace(/\//g, '_'));
  return format === 'maildir' ? `maildir:${join(dir, 'Maildir')}` : `mbox:${join(dir, 'mail')}:INBOX=${join(dir, 'inbox')}`;
}

/**
 * Copies every mailbox of `user` into `targetLocation`, which must not hold mail yet. The live index is not touched:
 * the target is written with a private index that is thrown away. Returns what was converted, per mailbox.
 */
export async function convertUserStore(user: MailUserInfo, targetLocation: string, opts: StorageOptions, onMailbox?: (m: ConvertedMailbox) => void): Promise<ConvertedMailbox[]> {
  const target = parseMailLocation(targetLocation, user.user, user.home);
  const entries = await readdir(target.root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (entries.length > 0) throw new Error(`${target.root} is not empty; convert writes into a new location only`);
  const privateIndex = await mkdtemp(join(tmpdir(), 'roost-convert-index-'));
  const source = await UserStorageImpl.open(user, opts);
  const done: ConvertedMailbox[] = [];
  try {
    if (source.location.root === target.root) throw new Error('source and target locations are the same');
    const dest = await UserStorageImpl.open({ user: user.user, home: user.home, mail: `${targetLocation}:INDEX=${privateIndex}` }, opts);
    try {
      const mailboxes = (await source.listMailboxes()).filter((m) => !m.noSelect);
      for (const mailbox of mailboxes) {
        const name = targetName(mailbox.name, source.separator, dest.separator);
        if (name !== 'INBOX') await dest.createMailbox(name, { specialUse: mailbox.specialUse });
        const session = await source.openMailbox(mailbox.name, { readOnly: true });
        try {
          const box: SourceMailbox = { session, uidValidity: session.uidValidity, uidNext: session.uidNext() };
          let messages: number;
          if (dest.backend instanceof MaildirUserBackend) messages = await writeMaildirMailbox(dest.backend.dirOf(name), box, opts.fsync);
          else if (dest.backend instanceof MboxUserBackend) messages = await writeMboxMailbox(dest.backend.pathOf(name), box, opts.fsync);
          else throw new Error(`cannot convert into ${dest.backend.kind}`);
          const converted = { source: mailbox.name, target: name, messages };
          done.push(converted);
          onMailbox?.(converted);
        } finally {
          await session.close();
        }
      }
      for (const name of await source.listSubscriptions()) await dest.subscribe(targetName(name, source.separator, dest.separator));
    } finally {
      await dest.close();
    }
  } finally {
    await source.close();
    await rm(privateIndex, { recursive: true, force: true });
  }
  return done;
}

interface ConvertOptions extends CommonOptions {
  to: string;
  location?: string;
}

export function registerConvertCommand(program: Command): void {
  withCommonOptions(
    program
      .command('convert <user>')
      .description("Copy USER's mail into another format keeping UIDVALIDITY, UIDs, flags and keywords; then point the user's mail location at it")
      .requiredOption('--to <format>', 'target format: maildir or mbox')
      .option('--location <location>', 'target mail location (default: mail/USER/Maildir, or mbox mail/USER/mail with INBOX=mail/USER/inbox, in the data directory)'),
  ).action(async (userName: string, opts: ConvertOptions) => {
    try {
      if (opts.to !== 'maildir' && opts.to !== 'mbox') throw new Error(`--to must be maildir or mbox, not ${opts.to}`);
      const ctx = loadStorageContext(opts);
      const record = await lookupMailUser(ctx, userName);
      const location = opts.location ?? defaultTargetLocation(opts.to, ctx.dataDir, record.user);
      if (!location.startsWith(`${opts.to}:`)) throw new Error(`--location ${location} is not a ${opts.to} location`);
      await convertUserStore(mailUserOf(record), location, ctx.storageOptions, (m) => process.stdout.write(`${m.source} -> ${m.target}: ${m.messages} messages\n`));
      process.stdout.write(`converted ${record.user} to ${location}\nset the user's mail location to it, then run: roost index rebuild ${record.user}\n`);
    } catch (err) {
      reportFailure(err);
    }
  });
}
