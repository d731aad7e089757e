// Shared by the storage subcommands (mailbox, index, quota, deliver, convert): USER -> userdb record -> the
// user's mail storage with the configured defaults, as doveadm's "-u USER" resolves a user before acting.
import { AuthService, type UserRecord } from '../auth/service.js';
import { configureLogger } from '../lib/logger.js';
import { openUserStorage, type MailUserInfo, type StorageOptions, type UserStorage } from '../storage/api.js';
import { loadContext, type CliContext, type CommonOptions } from './context.js';

/** The user does not exist in the userdb (exit 67 for deliver, 2 for the admin commands). */
export class UnknownUserError extends Error {
  constructor(readonly userName: string) {
    super(`user ${userName} doesn't exist`);
    this.name = 'UnknownUserError';
  }
}

export interface StorageCliContext extends CliContext {
  storageOptions: StorageOptions;
}

/**
 * Loads config and data directory for a storage command. Storage and index code log through pino; a command's
 * stdout is its answer, so the log goes to stderr and only warnings and worse are shown (ROOST_LOG_LEVEL overrides).
 */
export function loadStorageContext(opts: CommonOptions): StorageCliContext {
  configureLogger({ level: process.env.ROOST_LOG_LEVEL ?? 'warn', format: 'pretty', destination: process.stderr });
  const ctx = loadContext(opts);
  return { ...ctx, storageOptions: { dataDir: ctx.dataDir, defaultMailLocation: ctx.config.mail.mail_location, fsync: ctx.config.mail.mail_fsync } };
}

/** What the storage layer needs of a userdb record. */
export function mailUserOf(record: UserRecord): MailUserInfo {
  return { user: record.user, home: record.home, mail: record.mail, quotaRule: record.quotaRule };
}

/**
 * Looks USER up in the userdb. Throws UnknownUserError when it does not exist and AuthTemporaryError when the
 * userdb cannot answer now. With `asRecipient`, an address (user+detail@domain) is resolved as LMTP resolves it.
 */
export async function lookupMailUser(ctx: CliContext, name: string, opts: { asRecipient?: boolean } = {}): Promise<UserRecord> {
  const auth = await AuthService.create(ctx.config, ctx.dataDir);
  try {
    const record = (await auth.lookupUser(name)) ?? (opts.asRecipient ? await auth.resolveRecipient(name) : null);
    if (!record) throw new UnknownUserError(name);
    return record;
  } finally {
    await auth.close();
  }
}

/** Reports an admin command's failure on stderr with an exit code: 2 for an unknown user, 1 otherwise. */
export function reportFailure(err: unknown): void {
  if (err instanceof UnknownUserError) {
    process.stderr.write(`roost: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`roost: ${(err as Error).message}\n`);
  process.exitCode = 1;
}

/** Runs `fn` with USER's storage open, closing it afterwards; a failure is reported and sets the exit code. */
export async function withUserStorage(user: string, opts: CommonOptions, fn: (storage: UserStorage, ctx: StorageCliContext) => Promise<void>): Promise<void> {
  try {
    const ctx = loadStorageContext(opts);
    const record = await lookupMailUser(ctx, user);
    const storage = await openUserStorage(mailUserOf(record), ctx.storageOptions);
    try {
      await fn(storage, ctx);
    } finally {
      await storage.close();
    }
  } catch (err) {
    reportFailure(err);
  }
}
