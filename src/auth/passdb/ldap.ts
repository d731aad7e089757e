// LDAP passdb (Dovecot's passdb { driver = ldap }): finds the user with user_filter (%u %n %d, escaped),
// then either binds as the user (auth_bind) or checks the password attribute with the schemes; LDAP trouble is a tempfail.
import { attributeValue, escapeFilterValue, isTemporaryLdapError, type LdapOptions, type LdapPool } from '../ldap-pool.js';
import { verifyPassword } from '../schemes/index.js';
import { expandTemplate } from '../username-format.js';
import type { CredentialsResult, Passdb, PassdbResult } from '../types.js';
import type { Entry } from 'ldapts';

export class LdapPassdb implements Passdb {
  readonly driver = 'ldap';

  constructor(
    private readonly pool: LdapPool,
    private readonly opts: LdapOptions,
  ) {}

  private async findUser(user: string): Promise<Entry | undefined | 'ambiguous'> {
    const filter = expandTemplate(this.opts.userFilter, user, escapeFilterValue);
    const entries = await this.pool.search(filter, Object.keys(this.opts.passAttrs));
    if (entries.length > 1) return 'ambiguous';
    return entries[0];
  }

  /** Maps an entry to (user name, passdb fields) through pass_attrs. */
  private fields(entry: Entry, user: string): { user: string; password?: string; extra: Record<string, string> } {
    let name = user;
    let password: string | undefined;
    const extra: Record<string, string> = {};
    for (const [attr, field] of Object.entries(this.opts.passAttrs)) {
      const value = attributeValue(entry, attr);
      if (value === undefined) continue;
      if (field === 'user') name = value;
      else if (field === 'password') password = value;
      else if (!field.startsWith('userdb_')) extra[field] = value;
    }
    return { user: name, password, extra };
  }

  async verifyPlain(user: string, password: string): Promise<PassdbResult> {
    try {
      const entry = await this.findUser(user);
      if (entry === undefined) return { kind: 'unknown' };
      if (entry === 'ambiguous') return { kind: 'tempfail', reason: `user_filter matched more than one entry for ${user}` };
      const f = this.fields(entry, user);
      if (this.opts.authBind) {
        return (await this.pool.checkBind(entry.dn, password)) ? { kind: 'ok', user: f.user, extra: f.extra } : { kind: 'mismatch', user: f.user };
      }
      if (f.password === undefined) return { kind: 'mismatch', user: f.user };
      return (await verifyPassword(f.password, password, { defaultScheme: 'CRYPT' }))
        ? { kind: 'ok', user: f.user, extra: f.extra }
        : { kind: 'mismatch', user: f.user };
    } catch (err) {
      if (isTemporaryLdapError(err)) return { kind: 'tempfail', reason: `LDAP: ${(err as Error).message}` };
      throw err;
    }
  }

  async lookupCredentials(user: string): Promise<CredentialsResult> {
    if (this.opts.authBind) return { kind: 'tempfail', reason: 'LDAP auth_bind cannot hand out credentials (CRAM-MD5/SCRAM need a password attribute)' };
    try {
      const entry = await this.findUser(user);
      if (entry === undefined) return { kind: 'unknown' };
      if (entry === 'ambiguous') return { kind: 'tempfail', reason: `user_filter matched more than one entry for ${user}` };
      const f = this.fields(entry, user);
      if (f.password === undefined) return { kind: 'unknown' };
      return { kind: 'ok', user: f.user, stored: f.password, extra: f.extra };
    } catch (err) {
      if (isTemporaryLdapError(err)) return { kind: 'tempfail', reason: `LDAP: ${(err as Error).message}` };
      throw err;
    }
  }

  async close(): Promise<void> {}
}
