// LDAP userdb (Dovecot's userdb { driver = ldap }): user_filter finds the entry, user_attrs maps
// attributes to userdb fields (home, mail, quota_rule, uid, gid, ...); LDAP trouble is a tempfail.
import { attributeValue, escapeFilterValue, isTemporaryLdapError, type LdapOptions, type LdapPool } from '../ldap-pool.js';
import { expandTemplate } from '../username-format.js';
import { userRecordFromFields, type Userdb, type UserdbResult } from '../types.js';

export class LdapUserdb implements Userdb {
  readonly driver = 'ldap';

  constructor(
    private readonly pool: LdapPool,
    private readonly opts: LdapOptions,
  ) {}

  async lookup(user: string): Promise<UserdbResult> {
    try {
      const filter = expandTemplate(this.opts.userFilter, user, escapeFilterValue);
      const entries = await this.pool.search(filter, Object.keys(this.opts.userAttrs));
      if (entries.length === 0) return { kind: 'unknown' };
      if (entries.length > 1) return { kind: 'tempfail', reason: `user_filter matched more than one entry for ${user}` };
      const fields: Record<string, string> = {};
      let name = user;
      for (const [attr, field] of Object.entries(this.opts.userAttrs)) {
        const value = attributeValue(entries[0], attr);
        if (value === undefined) continue;
        if (field === 'user') name = value;
        else fields[field.replace(/^userdb_/, '')] = value;
      }
      return { kind: 'ok', record: userRecordFromFields(name, fields) };
    } catch (err) {
      if (isTemporaryLdapError(err)) return { kind: 'tempfail', reason: `LDAP: ${(err as Error).message}` };
      throw err;
    }
  }

  async close(): Promise<void> {}
}
