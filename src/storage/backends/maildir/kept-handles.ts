// Descriptors a Maildir keeps open across a burst of saves (dovecot-uidlist for appends, new/ and cur/ for fsync),
// each used only while its inode is the one a stat under the uidlist lock just saw; closed after a short idle time.
import { open, type FileHandle } from 'node:fs/promises';

interface Kept {
  handle: FileHandle;
  ino: bigint;
}

export class KeptHandles {
  private readonly kept = new Map<string, Kept>();
  private timer?: NodeJS.Timeout;

  /** `serialize` runs the idle close so that it never overlaps a use (the mailbox's mutex). */
  constructor(
    private readonly idleMs: number,
    private readonly serialize: (fn: () => Promise<void>) => Promise<void>,
  ) {}

  /**
   * The descriptor for `path` when its inode is `ino` (from a stat taken under the lock), opening it with `flags`
   * when none is kept for that inode. A file replaced between that stat and the open is an error: only a writer
   * that ignores the lock does that.
   */
  async get(path: string, flags: string, ino: bigint): Promise<FileHandle> {
    this.touch();
    const kept = this.kept.get(path);
    if (kept?.ino === ino) return kept.handle;
    await this.drop(path);
    const handle = await open(path, flags);
    const st = await handle.stat({ bigint: true }).catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
    if (st.ino !== ino) {
      await handle.close();
      throw new Error(`${path} was replaced while locked`);
    }
    this.kept.set(path, { handle, ino });
    return handle;
  }

  /** Closes the descriptor kept for `path` (after an error on it). */
  async drop(path: string): Promise<void> {
    const kept = this.kept.get(path);
    if (!kept) return;
    this.kept.delete(path);
    await kept.handle.close().catch(() => undefined);
  }

  private touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.serialize(async () => {
        for (const path of [...this.kept.keys()]) await this.drop(path);
      });
    }, this.idleMs);
    this.timer.unref();
  }
}
