// passwd-file userdb (Dovecot's userdb { driver = passwd-file }): uid, gid and home from their fields,
// every userdb_* extra field (userdb_mail, userdb_quota_rule, ...) with the prefix removed.
import { PasswdFile, type PasswdEntry } from '../passwd-file.js';
import { userRecordFromFields, type UserRecord, type Userdb, type UserdbResult } from '../types.js';

export function userRecordFromEntry(entry: PasswdEntry): UserRecord {
  const fields: Record<string, string> = {};
  if (entry.home) fields.home = entry.home;
  if (entry.uid !== undefined) fields.uid = String(entry.uid);
  if (entry.gid !== undefined) fields.gid = String(entry.gid);
  for (const [k, v] of Object.entries(entry.extra)) if (k.startsWith('userdb_')) fields[k.slice('userdb_'.length)] = v;
  return userRecordFromFields(entry.user, fields);
}

export class PasswdFileUserdb implements Userdb {
  readonly driver = 'passwd-file';

  constructor(readonly file: PasswdFile) {}

  async lookup(user: string): Promise<UserdbResult> {
    const entry = await this.file.find(user);
    return entry ? { kind: 'ok', record: userRecordFromEntry(entry) } : { kind: 'unknown' };
  }

  async list(): Promise<string[]> {
    return (await this.file.entries()).map((e) => e.user);
  }

  async close(): Promise<void> {}
}
