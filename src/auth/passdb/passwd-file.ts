// passwd-file passdb (Dovecot's passdb { driver = passwd-file }): the password field checked with the
// password schemes; extra fields without a userdb_ prefix (nologin, allow_nets, nopassword, ...) go back to the service.
import { PasswdFile } from '../passwd-file.js';
import { verifyPassword } from '../schemes/index.js';
import type { CredentialsResult, Passdb, PassdbResult } from '../types.js';

export interface PasswdFilePassdbOptions {
  /** Scheme for password fields without {SCHEME} (Dovecot's default_pass_scheme). */
  defaultScheme: string;
}

function passdbFields(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) if (!k.startsWith('userdb_')) out[k] = v;
  return out;
}

export class PasswdFilePassdb implements Passdb {
  readonly driver = 'passwd-file';

  constructor(
    readonly file: PasswdFile,
    private readonly opts: PasswdFilePassdbOptions,
  ) {}

  async verifyPlain(user: string, password: string): Promise<PassdbResult> {
    const entry = await this.file.find(user);
    if (!entry) return { kind: 'unknown' };
    const extra = passdbFields(entry.extra);
    if (entry.password === '' && 'nopassword' in extra) return { kind: 'ok', user: entry.user, extra };
    if (entry.password === '') return { kind: 'mismatch', user: entry.user };
    const ok = await verifyPassword(entry.password, password, { defaultScheme: this.opts.defaultScheme });
    return ok ? { kind: 'ok', user: entry.user, extra } : { kind: 'mismatch', user: entry.user };
  }

  async lookupCredentials(user: string): Promise<CredentialsResult> {
    const entry = await this.file.find(user);
    if (!entry) return { kind: 'unknown' };
    return { kind: 'ok', user: entry.user, stored: entry.password, extra: passdbFields(entry.extra) };
  }

  async refresh(): Promise<void> {
    await this.file.refresh();
  }

  onChange(listener: () => void): void {
    this.file.onChange(listener);
  }

  async close(): Promise<void> {}
}
