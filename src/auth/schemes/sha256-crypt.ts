// SHA256-CRYPT scheme: glibc crypt $5$ (Drepper's SHA-crypt, optional rounds=N), computed on a
// crypt worker thread with node:crypto; Dovecot's {SHA256-CRYPT}$5$salt$hash layout.
import { shaCrypt } from './crypt-worker.js';
import { verifyCryptString } from './crypt-verify.js';
import { cryptSalt } from './salt.js';
import type { PasswordScheme } from './types.js';

export const sha256CryptScheme: PasswordScheme = {
  name: 'SHA256-CRYPT',
  defaultEncoding: 'none',
  async verify(password, raw) {
    return verifyCryptString('$5$', password, raw.toString('utf8'), shaCrypt);
  },
  async generate(password, opts) {
    const rounds = opts.rounds && opts.rounds !== 5000 ? `rounds=${opts.rounds}$` : '';
    return shaCrypt(password, `$5$${rounds}${cryptSalt(16)}`);
  },
};
