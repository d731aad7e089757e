// Password scheme registry: parses Dovecot's "{SCHEME[.B64|.HEX]}data" and bare crypt strings
// ($2y$, $6$, $5$, $1$, $argon2id$), verifies and generates as Dovecot's password-scheme.c does.
import { constantTimeEqual } from './compare.js';
import { argon2iScheme, argon2idScheme } from './argon2.js';
import { blfCryptScheme, DEFAULT_BLF_CRYPT_COST } from './blf-crypt.js';
import { cramMd5Scheme } from './cram-md5.js';
import { md5CryptScheme } from './md5-crypt.js';
import { pbkdf2Scheme } from './pbkdf2.js';
import { plainScheme } from './plain.js';
import { scramSha1Scheme, scramSha256Scheme } from './scram.js';
import { ldapMd5Scheme, plainMd5Scheme, sha256Scheme, sha512Scheme, shaScheme } from './sha.js';
import { sha256CryptScheme } from './sha256-crypt.js';
import { sha512CryptScheme } from './sha512-crypt.js';
import { smd5Scheme, ssha256Scheme, ssha512Scheme, sshaScheme } from './ssha.js';
import type { GenerateOptions, PasswordScheme, SchemeEncoding } from './types.js';

export type { GenerateOptions, PasswordScheme, SchemeEncoding } from './types.js';
export { cramMd5Context, hmacMd5FromContext, hmacMd5 } from './cram-md5.js';
export { deriveScramKeys, parseScramCredentials, formatScramCredentials, type ScramKeys } from './scram.js';

const ALL_SCHEMES: PasswordScheme[] = [
  blfCryptScheme,
  sha512CryptScheme,
  sha256CryptScheme,
  md5CryptScheme,
  argon2idScheme,
  argon2iScheme,
  pbkdf2Scheme,
  ssha512Scheme,
  ssha256Scheme,
  sshaScheme,
  smd5Scheme,
  sha512Scheme,
  sha256Scheme,
  shaScheme,
  plainMd5Scheme,
  ldapMd5Scheme,
  plainScheme,
  cramMd5Scheme,
  scramSha256Scheme,
  scramSha1Scheme,
];

const BY_NAME = new Map<string, PasswordScheme>();
for (const scheme of ALL_SCHEMES) {
  BY_NAME.set(scheme.name, scheme);
  for (const alias of scheme.aliases ?? []) BY_NAME.set(alias, scheme);
}

/** Canonical names of every scheme `roost pw -s` can write. */
export const SCHEME_NAMES: readonly string[] = ALL_SCHEMES.map((s) => s.name);

export function findScheme(name: string): PasswordScheme | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** Crypt prefixes that identify a scheme in a bare string (and in {CRYPT}). */
const CRYPT_PREFIXES: [RegExp, PasswordScheme][] = [
  [/^\$2[abxy]\$/, blfCryptScheme],
  [/^\$6\$/, sha512CryptScheme],
  [/^\$5\$/, sha256CryptScheme],
  [/^\$(1|apr1)\$/, md5CryptScheme],
  [/^\$argon2id\$/, argon2idScheme],
  [/^\$argon2i\$/, argon2iScheme],
];

function schemeFromCryptPrefix(text: string): PasswordScheme | undefined {
  for (const [re, scheme] of CRYPT_PREFIXES) if (re.test(text)) return scheme;
  return undefined;
}

export interface ParsedPassword {
  scheme: PasswordScheme;
  /** The name as written in the prefix (or implied), upper-case. */
  schemeName: string;
  encoding: SchemeEncoding;
  /** The stored data after the prefix, still encoded. */
  data: string;
}

export interface VerifyOptions {
  /** Scheme for strings without {SCHEME} and without a crypt prefix (Dovecot's default_pass_scheme). */
  defaultScheme?: string;
}

/** Splits "{SCHEME.ENC}data" or recognises a bare crypt string; undefined when the scheme is unknown. */
export function parseStoredPassword(stored: string, opts: VerifyOptions = {}): ParsedPassword | undefined {
  const m = /^\{([A-Za-z0-9-]+)(?:\.(B64|BASE64|HEX))?\}/i.exec(stored);
  if (m) {
    const name = m[1].toUpperCase();
    const data = stored.slice(m[0].length);
    const forced = m[2]?.toUpperCase();
    const encodingFromSuffix: SchemeEncoding | undefined = forced === 'HEX' ? 'hex' : forced ? 'base64' : undefined;
    const scheme = name === 'CRYPT' ? schemeFromCryptPrefix(data) : BY_NAME.get(name);
    if (!scheme) return undefined;
    return { scheme, schemeName: name, encoding: encodingFromSuffix ?? scheme.defaultEncoding, data };
  }
  const byPrefix = schemeFromCryptPrefix(stored);
  if (byPrefix) return { scheme: byPrefix, schemeName: byPrefix.name, encoding: 'none', data: stored };
  const fallback = BY_NAME.get((opts.defaultScheme ?? 'PLAIN').toUpperCase());
  if (!fallback) return undefined;
  if (fallback === blfCryptScheme || /CRYPT$/.test(fallback.name)) {
    // A default crypt scheme only applies to strings that look like crypt output.
    return undefined;
  }
  return { scheme: fallback, schemeName: fallback.name, encoding: fallback.defaultEncoding, data: stored };
}

/** The raw bytes of a parsed password; Dovecot also accepts hex where base64 is the default when the length says so. */
export function decodeStoredPassword(parsed: ParsedPassword): Buffer | undefined {
  const { scheme, encoding, data } = parsed;
  if (encoding === 'none') return Buffer.from(data, 'utf8');
  if (encoding === 'hex' || (scheme.rawLength !== undefined && data.length === scheme.rawLength * 2 && /^[0-9a-fA-F]+$/.test(data))) {
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(data)) return undefined;
    return Buffer.from(data, 'hex');
  }
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return undefined;
  return Buffer.from(data, 'base64');
}

/** True when `password` matches `stored`. Unknown schemes and malformed data never match. */
export async function verifyPassword(stored: string, password: string, opts: VerifyOptions = {}): Promise<boolean> {
  const parsed = parseStoredPassword(stored, opts);
  if (!parsed) return false;
  const raw = decodeStoredPassword(parsed);
  if (!raw) return false;
  if (parsed.scheme.rawLength !== undefined && raw.length !== parsed.scheme.rawLength) return false;
  return parsed.scheme.verify(password, raw);
}

export interface HashOptions extends GenerateOptions {
  /** Cost for BLF-CRYPT (config auth.blf_crypt_cost). */
  blfCryptCost?: number;
}

/** "{SCHEME}data" as Dovecot's `doveadm pw -s SCHEME` writes it; SCHEME may carry .B64/.HEX. */
export async function hashPassword(schemeSpec: string, password: string, opts: HashOptions = {}): Promise<string> {
  const m = /^([A-Za-z0-9-]+)(?:\.(B64|BASE64|HEX))?$/i.exec(schemeSpec.trim());
  const scheme = m ? BY_NAME.get(m[1].toUpperCase()) : undefined;
  if (!m || !scheme) throw new Error(`unknown password scheme "${schemeSpec}" (known: ${SCHEME_NAMES.join(', ')})`);
  const forced = m[2]?.toUpperCase();
  const encoding: SchemeEncoding = forced === 'HEX' ? 'hex' : forced ? 'base64' : scheme.defaultEncoding;
  const rounds = opts.rounds ?? (scheme === blfCryptScheme ? (opts.blfCryptCost ?? DEFAULT_BLF_CRYPT_COST) : undefined);
  const raw = await scheme.generate(password, { ...opts, rounds });
  const data = encoding === 'hex' ? raw.toString('hex') : encoding === 'base64' ? raw.toString('base64') : raw.toString('utf8');
  const suffix = forced ? (forced === 'HEX' ? '.HEX' : '.B64') : '';
  return `{${scheme.name}${suffix}}${data}`;
}

/**
 * Credentials a mechanism can use, derived from a stored password: the plaintext (PLAIN stored),
 * or the scheme's own stored form when it is the one asked for (CRAM-MD5 context, SCRAM keys).
 */
export function storedCredentials(stored: string, wanted: 'PLAIN' | 'CRAM-MD5' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1', opts: VerifyOptions = {}): Buffer | undefined {
  const parsed = parseStoredPassword(stored, opts);
  if (!parsed) return undefined;
  const raw = decodeStoredPassword(parsed);
  if (!raw) return undefined;
  if (parsed.scheme === plainScheme) return wanted === 'PLAIN' ? raw : undefined;
  if (parsed.scheme.name === wanted) return raw;
  return undefined;
}

/** True when the stored string's plaintext can be recovered (so any mechanism can be served). */
export function isPlaintextStored(stored: string, opts: VerifyOptions = {}): boolean {
  return parseStoredPassword(stored, opts)?.scheme === plainScheme;
}

export { constantTimeEqual };
