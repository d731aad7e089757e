// Object identifiers of OBJECTID (RFC 8474 sections 4, 5 and 7): MAILBOXID, EMAILID and THREADID as Roost derives them,
// all within the objectid syntax (1*255 of A-Z a-z 0-9 "_" "-"), starting with a letter.
import { createHash } from 'node:crypto';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/**
 * MAILBOXID: derived, not stored, from the account and the mailbox's UIDVALIDITY. The store keeps UIDVALIDITY (Maildir:
 * dovecot-uidlist; mbox: X-IMAPbase), so the id survives restarts and index rebuilds, and also RENAME, which keeps
 * UIDVALIDITY (RFC 8474 section 4.2); a mailbox deleted and created again gets a new UIDVALIDITY and so a new id.
 * Roost hands out UIDVALIDITY values that increase, so no two of a user's mailboxes share one.
 */
export function mailboxId(user: string, uidValidity: number): string {
  const key = `${user}\0${uidValidity}`;
  let id = mailboxIds.get(key);
  if (id === undefined) {
    // Every SELECT names it: a SHA-256 per SELECT showed in the profile of repeated SELECTs.
    if (mailboxIds.size >= MAILBOX_IDS_KEPT) mailboxIds.clear();
    id = `F${digest(key)}`;
    mailboxIds.set(key, id);
  }
  return id;
}

/** MAILBOXIDs computed lately, by user and UIDVALIDITY (a cache: cleared whole when full). */
const mailboxIds = new Map<string, string>();
const MAILBOX_IDS_KEPT = 10_000;

/**
 * EMAILID: derived from the message GUID the store keeps (Maildir: the uidlist G extension or the base file name;
 * mbox: from the From_ line). A Maildir COPY or MOVE keeps the source's GUID, so the id stays the same, as RFC 8474
 * section 5.1 recommends; identical copies saved apart (two APPENDs) get different ids.
 */
export function emailId(guid: string): string {
  return `M${digest(guid)}`;
}

/** THREADID: Roost does not keep threads across mailboxes, so NIL (RFC 8474 section 5.2 allows it). */
export const THREADID_NIL = 'NIL';

/** The objectid syntax of RFC 8474 section 7. */
export const OBJECTID_RE = /^[A-Za-z0-9_-]{1,255}$/;
