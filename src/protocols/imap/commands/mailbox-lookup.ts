// Looking up mailboxes in the store's list for the mailbox commands: one entry per name, the first the store
// lists winning (INBOX comes first, before any parent entry a child such as "INBOX.foo" implies).
import type { MailboxInfo, UserStorage } from '../../../storage/api.js';

export function mailboxesByName(list: readonly MailboxInfo[]): Map<string, MailboxInfo> {
  const byName = new Map<string, MailboxInfo>();
  for (const m of list) if (!byName.has(m.name)) byName.set(m.name, m);
  return byName;
}

export async function findMailbox(storage: UserStorage, name: string): Promise<MailboxInfo | undefined> {
  return mailboxesByName(await storage.listMailboxes()).get(name);
}
