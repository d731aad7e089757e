// Constant-time comparison of secrets (hashes, digests, keys) for every password scheme and mechanism.
// Lengths may differ; the time taken depends only on the expected value's length.
import { timingSafeEqual, createHash } from 'node:crypto';

/** True when a and b hold the same bytes, compared without early exit. */
export function constantTimeEqual(a: Buffer | string, b: Buffer | string): boolean {
  const ba = typeof a === 'string' ? Buffer.from(a, 'utf8') : a;
  const bb = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  // Hash both sides so differing lengths cost the same and timingSafeEqual gets equal sizes.
  const ha = createHash('sha256').update(ba).digest();
  const hb = createHash('sha256').update(bb).digest();
  return timingSafeEqual(ha, hb) && ba.length === bb.length;
}
