// Helpers shared by the storage contract suite and the backend-specific store tests: a storage opened for the length of
// a callback, StorageError matchers, CRLF forms of test messages.
import { openUserStorage, StorageError, type MailboxSession, type MailUserInfo, type StorageOptions, type UserStorage } from '../../src/storage/api.js';

/** The message with CRLF line ends, as every store gives it back. */
export const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');

/** For assert.rejects: a StorageError with this code. */
export const isCode =
  (code: string) =>
  (e: unknown): boolean =>
    e instanceof StorageError && e.code === code;

/** Opens the user's storage, runs `fn` with it and closes it, also when `fn` throws. */
export async function withStorage<T>(user: MailUserInfo, opts: StorageOptions, fn: (st: UserStorage) => Promise<T>): Promise<T> {
  const st = await openUserStorage(user, opts);
  try {
    return await fn(st);
  } finally {
    await st.close();
  }
}

/**
 * Whether the stamp the index recorded for a session's mailbox is the store's stamp now: the next refresh will not
 * rescan. Reaches into the session's shared mailbox (not part of the storage API).
 */
export async function indexInStepWithStore(box: MailboxSession): Promise<boolean> {
  const { shared } = box as unknown as { shared: { name: string; index: { state(name: string): { stamp: string } }; store: { changeStamp(): Promise<string> } } };
  return shared.index.state(shared.name).stamp === (await shared.store.changeStamp());
}
