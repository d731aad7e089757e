// BLF-CRYPT scheme: bcrypt ($2a$, $2b$, $2y$) through the bcrypt library's async (thread-pool) API.
// Dovecot writes $2y$; the library rejects that prefix, so it is compared as the identical $2b$.
import bcrypt from 'bcrypt';
import { constantTimeEqual } from './compare.js';
import type { PasswordScheme } from './types.js';

export const DEFAULT_BLF_CRYPT_COST = 10;

function toLibraryPrefix(hash: string): string {
  return /^\$2[xy]\$/.test(hash) ? '$2b$' + hash.slice(4) : hash;
}

export const blfCryptScheme: PasswordScheme = {
  name: 'BLF-CRYPT',
  defaultEncoding: 'none',
  async verify(password, raw) {
    const stored = raw.toString('utf8');
    if (!/^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/.test(stored)) return false;
    const computed = await bcrypt.hash(password, toLibraryPrefix(stored).slice(0, 29));
    return constantTimeEqual(computed.slice(4), stored.slice(4));
  },
  async generate(password, opts) {
    const cost = opts.rounds ?? DEFAULT_BLF_CRYPT_COST;
    const hash = await bcrypt.hash(password, await bcrypt.genSalt(cost));
    return Buffer.from('$2y$' + hash.slice(4), 'utf8');
  },
};
