// `roost index rebuild USER [MAILBOX]` and `roost index delete USER`: recreates a user's LMDB index from the store
// (UIDs from dovecot-uidlist / X-UID, so they stay the same), as `doveadm force-resync` and `doveadm index` do.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { deleteIndex, rebuildIndex, type MailUserInfo, type StorageOptions } from '../storage/api.js';
import { withCommonOptions, type CommonOptions } from './context.js';
import { loadStorageContext, lookupMailUser, mailUserOf, reportFailure } from './storage-user.js';

type ProgressReporter = { update(done: number, total: number, name: string): void; stop(): void };

/** A cli-progress bar when stderr is a terminal; else one plain line per rebuilt mailbox (logs, pipes, cron). */
function progressReporter(stream: NodeJS.WriteStream): ProgressReporter {
  if (!stream.isTTY) {
    return {
      update: (done, total, name) => stream.write(`rebuilt ${name} (${done}/${total})\n`),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { stream, format: 'index rebuild [{bar}] {value}/{total} mailboxes | {mailbox}', hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total, name) => {
      if (!started) {
        bar.start(total, 0, { mailbox: '' });
        started = true;
      }
      bar.update(done, { mailbox: name });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Rebuilds the index of one mailbox or all of them, reporting progress on stderr. */
export async function rebuildUserIndex(user: MailUserInfo, storage: StorageOptions, mailbox?: string): Promise<void> {
  const reporter = progressReporter(process.stderr);
  try {
    await rebuildIndex(user, storage, mailbox, (done, total, name) => reporter.update(done, total, name));
  } finally {
    reporter.stop();
  }
}

export function registerIndexCommands(program: Command): void {
  const index = program.command('index').description("Maintain a user's LMDB index (a cache of the store)");

  withCommonOptions(
    index
      .command('rebuild <user> [mailbox]')
      .description('Rebuild the index of MAILBOX (default: all mailboxes) from the store, keeping UIDs'),
  ).action(async (user: string, mailbox: string | undefined, opts: CommonOptions) => {
    try {
      const ctx = loadStorageContext(opts);
      const record = await lookupMailUser(ctx, user);
      await rebuildUserIndex(mailUserOf(record), ctx.storageOptions, mailbox);
    } catch (err) {
      reportFailure(err);
    }
  });

  withCommonOptions(
    index
      .command('delete <user>')
      .description("Remove the user's whole index; the next open or `roost index rebuild` recreates it (stop sessions first)"),
  ).action(async (user: string, opts: CommonOptions) => {
    try {
      const ctx = loadStorageContext(opts);
      const record = await lookupMailUser(ctx, user);
      await deleteIndex(mailUserOf(record), ctx.storageOptions);
    } catch (err) {
      reportFailure(err);
    }
  });
}
