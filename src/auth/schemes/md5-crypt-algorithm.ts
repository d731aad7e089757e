// MD5-crypt as in Poul-Henning Kamp's FreeBSD md5crypt (glibc's $1$) and Apache's $apr1$ variant:
// salt up to 8 bytes, 1000 rounds, on node:crypto's MD5.
import { createHash, hash as oneShotHash } from 'node:crypto';

export const MD5_CRYPT_SALT_MAX = 8;
const ROUNDS = 1000;
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** One MD5 digest as a latin1 string; see sha-crypt-algorithm.ts for why the rounds use strings. */
const md5Latin1: (data: Buffer) => string =
  typeof oneShotHash === 'function'
    ? (data) => oneShotHash('md5', data, 'binary')
    : (data) => createHash('md5').update(data).digest('binary');

/** The magic a setting starts with ("$1$" or "$apr1$"), or undefined. */
export function md5CryptMagic(setting: Buffer): '$1$' | '$apr1$' | undefined {
  const text = setting.toString('latin1', 0, 6);
  if (text.startsWith('$1$')) return '$1$';
  if (text.startsWith('$apr1$')) return '$apr1$';
  return undefined;
}

/** crypt(password, setting) for a "$1$salt" or "$apr1$salt" setting: "magic salt $ hash" as bytes. */
export function md5Crypt(password: Buffer, setting: Buffer): Buffer {
  const magicText = md5CryptMagic(setting);
  if (!magicText) throw new Error('not an MD5-crypt setting');
  const magic = Buffer.from(magicText, 'latin1');
  let end = setting.indexOf(0x24 /* $ */, magic.length);
  if (end < 0) end = setting.length;
  const salt = setting.subarray(magic.length, Math.min(end, magic.length + MD5_CRYPT_SALT_MAX));
  const keyLen = password.length;

  const alt = createHash('md5').update(password).update(salt).update(password).digest();
  const ctx = createHash('md5').update(password).update(magic).update(salt);
  for (let pl = keyLen; pl > 0; pl -= 16) ctx.update(alt.subarray(0, Math.min(pl, 16)));
  // The original clears its buffer first, so a set bit adds one zero byte; a clear bit the key's first byte.
  const zero = Buffer.alloc(1);
  const first = password.subarray(0, 1);
  for (let i = keyLen; i > 0; i >>= 1) ctx.update(i & 1 ? zero : first);
  const initial = ctx.digest();

  // Round i hashes (i odd ? P : F) (i % 3 ? S : -) (i % 7 ? P : -) (i odd ? F : P); the 42 layouts
  // (i mod 42) are built once and each round only writes F into its own.
  const layouts: Buffer[] = [];
  const fOffsets: number[] = [];
  for (let j = 0; j < 42; j++) {
    const odd = (j & 1) === 1;
    const withS = j % 3 !== 0;
    const withP = j % 7 !== 0;
    const size = 16 + keyLen + (withS ? salt.length : 0) + (withP ? keyLen : 0);
    const layout = Buffer.alloc(size);
    let off = odd ? password.copy(layout, 0) : 16;
    if (withS) off += salt.copy(layout, off);
    if (withP) off += password.copy(layout, off);
    if (!odd) password.copy(layout, off);
    layouts.push(layout);
    fOffsets.push(odd ? size - 16 : 0);
  }
  let f = initial.toString('latin1');
  for (let i = 0, j = 0; i < ROUNDS; i++) {
    const layout = layouts[j];
    layout.write(f, fOffsets[j], 16, 'latin1');
    f = md5Latin1(layout);
    if (++j === 42) j = 0;
  }
  const final = Buffer.from(f, 'latin1');

  let encoded = '$';
  const put = (b2: number, b1: number, b0: number, n: number): void => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let k = 0; k < n; k++, w >>= 6) encoded += ITOA64[w & 0x3f];
  };
  put(final[0], final[6], final[12], 4);
  put(final[1], final[7], final[13], 4);
  put(final[2], final[8], final[14], 4);
  put(final[3], final[9], final[15], 4);
  put(final[4], final[10], final[5], 4);
  put(0, 0, final[11], 2);
  return Buffer.concat([magic, salt, Buffer.from(encoded, 'latin1')]);
}
