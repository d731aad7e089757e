// SHA-crypt ($5$ SHA-256, $6$ SHA-512) as in Ulrich Drepper's specification and glibc's crypt:
// rounds=N clamped to 1000..999999999 (default 5000), salt up to 16 bytes, on node:crypto's hashes.
import { createHash, hash as oneShotHash } from 'node:crypto';

export const SHA_CRYPT_ROUNDS_DEFAULT = 5000;
export const SHA_CRYPT_ROUNDS_MIN = 1000;
export const SHA_CRYPT_ROUNDS_MAX = 999_999_999;
export const SHA_CRYPT_SALT_MAX = 16;

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

interface Variant {
  prefix: string;
  algorithm: 'sha256' | 'sha512';
  length: number;
  /** Byte triples in the order the spec encodes them (b64_from_24bit(B2, B1, B0, 4)). */
  triples: readonly (readonly [number, number, number])[];
  /** The final group: [B1, B0] encoded with n characters (B2 is 0). */
  tail: readonly [number, number, number];
}

const SHA256: Variant = {
  prefix: '$5$',
  algorithm: 'sha256',
  length: 32,
  triples: [
    [0, 10, 20], [21, 1, 11], [12, 22, 2], [3, 13, 23], [24, 4, 14],
    [15, 25, 5], [6, 16, 26], [27, 7, 17], [18, 28, 8], [9, 19, 29],
  ],
  tail: [31, 30, 3],
};

const SHA512: Variant = {
  prefix: '$6$',
  algorithm: 'sha512',
  length: 64,
  triples: [
    [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
    [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
    [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
  ],
  tail: [-1, 63, 2],
};

/**
 * One digest as a latin1 string (one char per byte). Measured on Node 20, crypto.hash() with a string
 * result and latin1Write() back into a Buffer costs about half of a Buffer result, so the round loop
 * carries its digest that way; crypto.hash() needs Node 20.12, older releases fall back to createHash.
 */
const digestLatin1: (algorithm: string, data: Buffer) => string =
  typeof oneShotHash === 'function'
    ? (algorithm, data) => oneShotHash(algorithm, data, 'binary')
    : (algorithm, data) => createHash(algorithm).update(data).digest('binary');

export interface ShaCryptSetting {
  variant: Variant;
  rounds: number;
  /** True when the setting named rounds=N: then the output names it too (even 5000). */
  roundsCustom: boolean;
  salt: Buffer;
}

/** Parses "$5$[rounds=N$]salt[$...]" / "$6$..." as glibc does; undefined for another prefix. */
export function parseShaCryptSetting(setting: Buffer): ShaCryptSetting | undefined {
  const text = setting.toString('latin1');
  const variant = text.startsWith(SHA512.prefix) ? SHA512 : text.startsWith(SHA256.prefix) ? SHA256 : undefined;
  if (!variant) return undefined;
  let pos = variant.prefix.length;
  let rounds = SHA_CRYPT_ROUNDS_DEFAULT;
  let roundsCustom = false;
  // glibc: strtoul after "rounds="; taken only when a '$' follows the number (no digits counts as 0).
  const m = /^rounds=(\d*)\$/.exec(text.slice(pos));
  if (m) {
    const requested = m[1] === '' ? 0 : Number(m[1]);
    rounds = Math.max(SHA_CRYPT_ROUNDS_MIN, Math.min(SHA_CRYPT_ROUNDS_MAX, requested));
    roundsCustom = true;
    pos += m[0].length;
  }
  let end = text.indexOf('$', pos);
  if (end < 0) end = text.length;
  const salt = setting.subarray(pos, Math.min(end, pos + SHA_CRYPT_SALT_MAX));
  return { variant, rounds, roundsCustom, salt };
}

/** Fills `out` with `source` repeated (the spec's P and S sequences). */
function repeatInto(out: Buffer, source: Buffer): Buffer {
  for (let off = 0; off < out.length; off += source.length) source.copy(out, off, 0, Math.min(source.length, out.length - off));
  return out;
}

/** crypt(password, setting) for a $5$ or $6$ setting: the full "$id$[rounds=N$]salt$hash" string as bytes. */
export function shaCrypt(password: Buffer, setting: Buffer): Buffer {
  const parsed = parseShaCryptSetting(setting);
  if (!parsed) throw new Error('not a SHA-crypt setting');
  const { variant, rounds, roundsCustom, salt } = parsed;
  const { algorithm, length: hashLen } = variant;
  const keyLen = password.length;
  const saltLen = salt.length;

  // Digest B = H(P S P).
  const b = createHash(algorithm).update(password).update(salt).update(password).digest();

  // Digest A = H(P S, B for each hashLen of P (then its remainder), then B or P for each bit of len(P)).
  const ctxA = createHash(algorithm).update(password).update(salt);
  let cnt = keyLen;
  for (; cnt > hashLen; cnt -= hashLen) ctxA.update(b);
  ctxA.update(b.subarray(0, cnt));
  for (cnt = keyLen; cnt > 0; cnt >>= 1) ctxA.update(cnt & 1 ? b : password);
  const a = ctxA.digest();

  // DP = H(P repeated len(P) times); the P sequence is DP repeated to len(P) bytes.
  const ctxDP = createHash(algorithm);
  for (let i = 0; i < keyLen; i++) ctxDP.update(password);
  const pSeq = repeatInto(Buffer.alloc(keyLen), ctxDP.digest());

  // DS = H(S repeated 16 + A[0] times); the S sequence is DS cut to len(S).
  const ctxDS = createHash(algorithm);
  for (let i = 0, n = 16 + a[0]; i < n; i++) ctxDS.update(salt);
  const sSeq = ctxDS.digest().subarray(0, saltLen);

  // Round i hashes: (i odd ? P : C) (i % 3 ? S : -) (i % 7 ? P : -) (i odd ? C : P).
  // The 42 layouts (i mod 42) are built once; a round only writes C into its layout and hashes it.
  const layouts: Buffer[] = [];
  const cOffsets: number[] = [];
  for (let j = 0; j < 42; j++) {
    const odd = (j & 1) === 1;
    const withS = j % 3 !== 0;
    const withP = j % 7 !== 0;
    const size = hashLen + keyLen + (withS ? saltLen : 0) + (withP ? keyLen : 0);
    const layout = Buffer.alloc(size);
    let off = 0;
    if (odd) off += pSeq.copy(layout, off);
    else off += hashLen;
    if (withS) off += sSeq.copy(layout, off);
    if (withP) off += pSeq.copy(layout, off);
    if (!odd) pSeq.copy(layout, off);
    layouts.push(layout);
    cOffsets.push(odd ? size - hashLen : 0);
  }

  let c = a.toString('latin1');
  for (let i = 0, j = 0; i < rounds; i++) {
    const layout = layouts[j];
    layout.write(c, cOffsets[j], hashLen, 'latin1');
    c = digestLatin1(algorithm, layout);
    if (++j === 42) j = 0;
  }
  const final = Buffer.from(c, 'latin1');

  let out = variant.prefix;
  if (roundsCustom) out += `rounds=${rounds}$`;
  const head = Buffer.from(out, 'latin1');
  let encoded = '';
  const put = (b2: number, b1: number, b0: number, n: number): void => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let k = 0; k < n; k++, w >>= 6) encoded += ITOA64[w & 0x3f];
  };
  for (const [i2, i1, i0] of variant.triples) put(final[i2], final[i1], final[i0], 4);
  const [t1, t0, n] = variant.tail;
  if (t1 < 0) put(0, 0, final[t0], n);
  else put(0, final[t1], final[t0], n);
  return Buffer.concat([head, salt, Buffer.from('$' + encoded, 'latin1')]);
}
