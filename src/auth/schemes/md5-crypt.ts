// MD5-CRYPT scheme: the FreeBSD/glibc $1$ crypt (and Apache's $apr1$ variant), computed on a
// crypt worker thread with node:crypto; Dovecot writes {MD5-CRYPT}$1$salt$hash and accepts {MD5} as an alias.
import { md5Crypt } from './crypt-worker.js';
import { verifyCryptString } from './crypt-verify.js';
import { cryptSalt } from './salt.js';
import type { PasswordScheme } from './types.js';

export const md5CryptScheme: PasswordScheme = {
  name: 'MD5-CRYPT',
  aliases: ['MD5'],
  defaultEncoding: 'none',
  async verify(password, raw) {
    const stored = raw.toString('utf8');
    const prefix = stored.startsWith('$apr1$') ? '$apr1$' : '$1$';
    return verifyCryptString(prefix, password, stored, md5Crypt);
  },
  async generate(password) {
    return md5Crypt(password, `$1$${cryptSalt(8)}`);
  },
};
