// PBKDF2 scheme in Dovecot's layout (src/auth/password-scheme-pbkdf2.c): $1$<salt>$<rounds>$<hex>,
// PBKDF2-HMAC-SHA1 over the salt string's bytes, 20-byte key, 5000 rounds by default; async crypto.pbkdf2.
import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { constantTimeEqual } from './compare.js';
import { cryptSalt } from './salt.js';
import type { PasswordScheme } from './types.js';

const pbkdf2Async = promisify(pbkdf2);
const KEY_LENGTH = 20;
const DEFAULT_ROUNDS = 5000;
const SALT_LENGTH = 16;

export const pbkdf2Scheme: PasswordScheme = {
  name: 'PBKDF2',
  defaultEncoding: 'none',
  async verify(password, raw) {
    const m = /^\$1\$([^$]*)\$(\d+)\$([0-9a-fA-F]{40})$/.exec(raw.toString('utf8'));
    if (!m) return false;
    const rounds = Number(m[2]);
    if (!Number.isSafeInteger(rounds) || rounds < 1) return false;
    const key = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(m[1], 'utf8'), rounds, KEY_LENGTH, 'sha1');
    return constantTimeEqual(key, Buffer.from(m[3], 'hex'));
  },
  async generate(password, opts) {
    const salt = opts.salt ? opts.salt.toString('utf8') : cryptSalt(SALT_LENGTH);
    const rounds = opts.rounds ?? DEFAULT_ROUNDS;
    const key = await pbkdf2Async(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), rounds, KEY_LENGTH, 'sha1');
    return Buffer.from(`$1$${salt}$${rounds}$${key.toString('hex')}`, 'utf8');
  },
};
