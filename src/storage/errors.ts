// The closed set of storage error codes that every backend raises and every protocol maps (IMAP: RFC 5530
// response codes; POP3: RFC 3206 RESP-CODES; LMTP/SMTP: RFC 3463 enhanced status codes). The user sees `message`; the log sees `cause`.

export const STORAGE_ERROR_CODES = [
  'NOTFOUND', // mailbox or message does not exist                  IMAP [NONEXISTENT]
  'EXISTS', // mailbox already exists                                  IMAP [ALREADYEXISTS]
  'PERM', // not allowed (e.g. deleting INBOX, writing a read-only box) IMAP [NOPERM]
  'NOQUOTA', // quota would be exceeded                                IMAP [OVERQUOTA], LMTP 552 5.2.2
  'INUSE', // mailbox locked by someone else for too long               IMAP [INUSE]
  'EXPUNGED', // message was expunged meanwhile                         IMAP [EXPUNGEISSUED]
  'TEMP', // temporary failure, try again                               IMAP [UNAVAILABLE], LMTP 451 4.3.0
  'BADNAME', // mailbox name not acceptable                             IMAP [CANNOT]
  'TOOBIG', // message larger than allowed                              IMAP [TOOBIG], LMTP 552 5.3.4
  'HASCHILDREN', // operation needs a mailbox without children          IMAP [HASCHILDREN]
  'LIMIT', // an implementation limit (e.g. 26 Maildir keywords)        IMAP [LIMIT]
  'MODIFIED', // CONDSTORE UNCHANGEDSINCE failed for all given messages  IMAP [MODIFIED]
  'CORRUPTED', // store content could not be parsed                     IMAP [CORRUPTION]
  'INTERNAL', // anything else; details only in the log                 IMAP [SERVERBUG]
] as const;

export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number];

const USER_MESSAGES: Record<StorageErrorCode, string> = {
  NOTFOUND: 'Mailbox does not exist',
  EXISTS: 'Mailbox already exists',
  PERM: 'Permission denied',
  NOQUOTA: 'Quota exceeded',
  INUSE: 'Mailbox is in use, try again later',
  EXPUNGED: 'Message was expunged',
  TEMP: 'Temporary storage failure, try again later',
  BADNAME: 'Invalid mailbox name',
  TOOBIG: 'Message too large',
  HASCHILDREN: 'Mailbox has children',
  LIMIT: 'Limit reached',
  MODIFIED: 'Messages were modified meanwhile',
  CORRUPTED: 'Mailbox is corrupted',
  INTERNAL: 'Internal storage error occurred',
};

/** A storage failure with a code from the closed set and a message safe to show to the user. */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  /** What really happened, for the log only. */
  override readonly cause?: unknown;

  constructor(code: StorageErrorCode, message?: string, cause?: unknown) {
    super(message ?? USER_MESSAGES[code]);
    this.name = 'StorageError';
    this.code = code;
    this.cause = cause;
  }
}

export function isStorageError(err: unknown, code?: StorageErrorCode): err is StorageError {
  return err instanceof StorageError && (code === undefined || err.code === code);
}

/** Wraps an unexpected error (errno from fs, LMDB, ...) into a StorageError; StorageErrors pass through. */
export function toStorageError(err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (errno) {
    case 'ENOENT':
      return new StorageError('NOTFOUND', undefined, err);
    case 'EEXIST':
      return new StorageError('EXISTS', undefined, err);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new StorageError('PERM', undefined, err);
    case 'EDQUOT':
    case 'ENOSPC':
      return new StorageError('NOQUOTA', undefined, err);
    case 'EAGAIN':
    case 'EBUSY':
    case 'EMFILE':
    case 'ENFILE':
      return new StorageError('TEMP', undefined, err);
    case 'ENAMETOOLONG':
      return new StorageError('BADNAME', undefined, err);
    default:
      return new StorageError('INTERNAL', undefined, err);
  }
}
