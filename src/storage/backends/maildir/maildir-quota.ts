// Maildir++ quota for one user: the maildirsize file in the Maildir root (limits line, appended delta lines,
// recalculated when over 5120 bytes or when its limits differ from the userdb quota rule), as Dovecot's quota=maildir.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../../errors.js';
import { appendFileDurable, writeFileDurable } from '../../common/fsutil.js';
import type { QuotaStore, QuotaUsage } from '../backend.js';
import {
  MAILDIRSIZE_RECALC_BYTES,
  formatDeltaLine,
  formatLimitsLine,
  formatMaildirsize,
  parseMaildirsize,
  type QuotaLimits,
} from './maildirsize.js';
import { parseMaildirFilename } from './filename.js';

export const MAILDIRSIZE_FILE = 'maildirsize';

export class MaildirQuota implements QuotaStore {
  constructor(
    private readonly root: string,
    private readonly limits: QuotaLimits,
    /** Every mailbox directory of the user (INBOX root included). */
    private readonly mailboxDirs: () => Promise<string[]>,
    private readonly fsync: boolean,
  ) {}

  private get path(): string {
    return join(this.root, MAILDIRSIZE_FILE);
  }

  async usage(): Promise<QuotaUsage> {
    let text: string | undefined;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const parsed = text === undefined ? undefined : parseMaildirsize(text);
    if (!parsed || parsed.fileLength > MAILDIRSIZE_RECALC_BYTES || formatLimitsLine(parsed.limits) !== formatLimitsLine(this.limits) || parsed.bytes < 0 || parsed.count < 0) {
      return this.recalculate();
    }
    return { limits: this.limits, bytes: parsed.bytes, messages: parsed.count };
  }

  async check(addBytes: number, addMessages: number): Promise<void> {
    const u = await this.usage();
    if (this.limits.storage > 0 && addBytes > 0 && u.bytes + addBytes > this.limits.storage) throw new StorageError('NOQUOTA');
    if (this.limits.messages > 0 && addMessages > 0 && u.messages + addMessages > this.limits.messages) throw new StorageError('NOQUOTA');
  }

  async update(deltaBytes: number, deltaMessages: number): Promise<void> {
    try {
      await stat(this.path);
    } catch {
      await this.recalculate();
      return;
    }
    await appendFileDurable(this.path, formatDeltaLine(deltaBytes, deltaMessages), { fsync: this.fsync });
  }

  async recalculate(): Promise<QuotaUsage> {
    let bytes = 0;
    let messages = 0;
    for (const dir of await this.mailboxDirs()) {
      for (const sub of ['cur', 'new']) {
        let names: string[];
        try {
          names = await readdir(join(dir, sub));
        } catch {
          continue;
        }
        for (const name of names) {
          if (name.startsWith('.')) continue;
          const parsed = parseMaildirFilename(name);
          let size = parsed.size;
          if (size === undefined) {
            try {
              size = (await stat(join(dir, sub, name))).size;
            } catch {
              continue;
            }
          }
          bytes += size;
          messages += 1;
        }
      }
    }
    await writeFileDurable(this.path, formatMaildirsize(this.limits, bytes, messages), { fsync: this.fsync });
    return { limits: this.limits, bytes, messages };
  }
}
