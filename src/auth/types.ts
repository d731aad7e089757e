// Types shared by the auth service, its mechanisms and its passdb/userdb backends.
// Shapes follow Dovecot's auth request pipeline: mechanism -> passdb (verify) -> userdb (fields).

/** Who is asking: the connection an authentication arrives on. */
export interface ClientInfo {
  service: string;
  remoteIp: string;
  localIp?: string;
  remotePort?: number;
  localPort?: number;
  /** TLS, loopback or a trusted network (see AuthService.isSecured). */
  secured: boolean;
  sessionId?: string;
  /** Skip the per-IP penalty (Dovecot's no-penalty flag). */
  noPenalty?: boolean;
}

/** A user as the userdb describes it. */
export interface UserRecord {
  user: string;
  home?: string;
  mail?: string;
  uid?: number;
  gid?: number;
  quotaRule?: string;
  /** Every other userdb field, by its Dovecot name (without the userdb_ prefix). */
  extra: Record<string, string>;
}

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; user: UserRecord; /** set when a master user logged in as user */ authzUser?: string; masterUser?: string; data?: Buffer }
  | { kind: 'failure'; temporary: boolean; reason: string /* for logs only */ };

export interface SaslExchange {
  readonly mechanism: string;
  step(response: Buffer | undefined): Promise<SaslStep>;
  cancel(): void;
}

/** Outcome of asking a passdb to check a password or hand out credentials. */
export type PassdbResult =
  | { kind: 'ok'; user: string; extra: Record<string, string> }
  | { kind: 'mismatch'; user: string }
  | { kind: 'unknown' }
  | { kind: 'tempfail'; reason: string };

/** Outcome of a credentials lookup (for CRAM-MD5 and SCRAM, which need more than a yes/no). */
export type CredentialsResult =
  | { kind: 'ok'; user: string; stored: string; extra: Record<string, string> }
  | { kind: 'unknown' }
  | { kind: 'tempfail'; reason: string };

export interface Passdb {
  readonly driver: string;
  /** Checks a plaintext password for a (normalised) user name. */
  verifyPlain(user: string, password: string): Promise<PassdbResult>;
  /** The stored password string ({SCHEME}...) for mechanisms that need it; LDAP auth_bind cannot give it. */
  lookupCredentials(user: string): Promise<CredentialsResult>;
  /** Called when the backend's data changed (so caches can drop their entries). */
  onChange?(listener: () => void): void;
  /** Checks cheaply whether the data changed (firing onChange listeners); called before cache lookups. */
  refresh?(): Promise<void>;
  close(): Promise<void>;
}

export type UserdbResult = { kind: 'ok'; record: UserRecord } | { kind: 'unknown' } | { kind: 'tempfail'; reason: string };

export interface Userdb {
  readonly driver: string;
  lookup(user: string): Promise<UserdbResult>;
  /** All user names, when the backend can list them. */
  list?(): Promise<string[]>;
  close(): Promise<void>;
}

/** Splits Dovecot extra fields ("key=value key2 ...") into a record; a bare key gets "". */
export function parseExtraFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const token of text.split(/[ \t]+/)) {
    if (!token) continue;
    const eq = token.indexOf('=');
    if (eq < 0) out[token] = '';
    else out[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return out;
}

/** Builds a UserRecord from Dovecot userdb fields (home, mail, uid, gid, quota_rule, ...). */
export function userRecordFromFields(user: string, fields: Record<string, string>): UserRecord {
  const record: UserRecord = { user, extra: {} };
  for (const [key, value] of Object.entries(fields)) {
    switch (key) {
      case 'home':
        if (value) record.home = value;
        break;
      case 'mail':
        if (value) record.mail = value;
        break;
      case 'uid':
        if (value !== '') record.uid = Number(value);
        break;
      case 'gid':
        if (value !== '') record.gid = Number(value);
        break;
      case 'quota_rule':
        record.quotaRule = value;
        break;
      default:
        record.extra[key] = value;
    }
  }
  return record;
}
