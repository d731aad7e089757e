// Helpers shared by the storage contract suite and the backend-specific store tests: a storage opened for the length of
// a callback, StorageError matchers, CRLF forms of test messages.
import { openUserStorage, StorageError, type MailUserInfo, type StorageOptions, type UserStorage } from '../../src/storage/api.js';

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
