// Salted digest schemes (RFC 2307 style, as Dovecot writes them): {SSHA}, {SSHA256}, {SSHA512}, {SMD5};
// raw bytes are digest(password || salt) followed by the salt, base64 by default.
import { createHash } from 'node:crypto';
import { constantTimeEqual } from './compare.js';
import { saltBytes } from './salt.js';
import type { PasswordScheme } from './types.js';

const SALT_LENGTH = 8;

function saltedScheme(name: string, algorithm: string, digestLength: number): PasswordScheme {
  const digest = (password: string, salt: Buffer) => createHash(algorithm).update(Buffer.from(password, 'utf8')).update(salt).digest();
  return {
    name,
    defaultEncoding: 'base64',
    async verify(password, raw) {
      if (raw.length <= digestLength) return false;
      const salt = raw.subarray(digestLength);
      return constantTimeEqual(digest(password, salt), raw.subarray(0, digestLength));
    },
    async generate(password, opts) {
      const salt = opts.salt ?? saltBytes(SALT_LENGTH);
      return Buffer.concat([digest(password, salt), salt]);
    },
  };
}

export const sshaScheme = saltedScheme('SSHA', 'sha1', 20);
export const ssha256Scheme = saltedScheme('SSHA256', 'sha256', 32);
export const ssha512Scheme = saltedScheme('SSHA512', 'sha512', 64);
export const smd5Scheme = saltedScheme('SMD5', 'md5', 16);
