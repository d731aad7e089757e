// Unsalted digest schemes as Dovecot writes them: {SHA} (SHA1), {SHA256}, {SHA512} in base64,
// {PLAIN-MD5} in hex and {LDAP-MD5} in base64 (RFC 2307 style); .HEX/.B64 suffixes select the encoding.
import { createHash } from 'node:crypto';
import { constantTimeEqual } from './compare.js';
import type { PasswordScheme, SchemeEncoding } from './types.js';

function digestScheme(name: string, algorithm: string, rawLength: number, defaultEncoding: SchemeEncoding, aliases: string[] = []): PasswordScheme {
  const digest = (password: string) => createHash(algorithm).update(password, 'utf8').digest();
  return {
    name,
    aliases,
    defaultEncoding,
    rawLength,
    async verify(password, raw) {
      return constantTimeEqual(digest(password), raw);
    },
    async generate(password) {
      return digest(password);
    },
  };
}

export const shaScheme = digestScheme('SHA', 'sha1', 20, 'base64', ['SHA1']);
export const sha256Scheme = digestScheme('SHA256', 'sha256', 32, 'base64');
export const sha512Scheme = digestScheme('SHA512', 'sha512', 64, 'base64');
export const plainMd5Scheme = digestScheme('PLAIN-MD5', 'md5', 16, 'hex');
export const ldapMd5Scheme = digestScheme('LDAP-MD5', 'md5', 16, 'base64');
