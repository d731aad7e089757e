// PLAIN / CLEARTEXT scheme: the password stored as is (Dovecot's {PLAIN}, {CLEARTEXT}, {CLEAR}),
// with .B64/.HEX encodings; compared in constant time. Reversible, so every mechanism can use it.
import { constantTimeEqual } from './compare.js';
import type { PasswordScheme } from './types.js';

export const plainScheme: PasswordScheme = {
  name: 'PLAIN',
  aliases: ['CLEARTEXT', 'CLEAR'],
  defaultEncoding: 'none',
  reversible: true,
  async verify(password, raw) {
    return constantTimeEqual(Buffer.from(password, 'utf8'), raw);
  },
  async generate(password) {
    return Buffer.from(password, 'utf8');
  },
};
