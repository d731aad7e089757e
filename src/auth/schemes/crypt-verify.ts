// Shared check for crypt(3)-style strings ($id$[rounds=N$]salt$hash): recompute with the stored
// setting and compare the whole string's bytes in constant time.
import { constantTimeEqual } from './compare.js';

export async function verifyCryptString(
  prefix: string,
  password: string,
  stored: string,
  crypt: (password: string, setting: string) => Promise<Buffer>,
): Promise<boolean> {
  if (!stored.startsWith(prefix)) return false;
  const lastDollar = stored.lastIndexOf('$');
  if (lastDollar <= prefix.length) return false;
  const setting = stored.slice(0, lastDollar);
  try {
    return constantTimeEqual(await crypt(password, setting), Buffer.from(stored, 'utf8'));
  } catch {
    return false;
  }
}
