// CRAM-MD5 scheme: Dovecot's HMAC-MD5 "context" (RFC 2104 inner and outer MD5 states after the
// padded key block, 32 bytes, hex), from which the CRAM-MD5 mechanism (RFC 2195) answers without the plaintext.
import { createHmac } from 'node:crypto';
import { constantTimeEqual } from './compare.js';
import type { PasswordScheme } from './types.js';

// ---- a minimal MD5 (RFC 1321) whose chaining state can be read out and resumed

const S = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21];
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);
const MD5_INIT: readonly number[] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

function md5Block(state: number[], block: Buffer, offset: number): void {
  const m = new Array<number>(16);
  for (let i = 0; i < 16; i++) m[i] = block.readUInt32LE(offset + i * 4);
  let [a, b, c, d] = state;
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
    }
    const tmp = d;
    d = c;
    c = b;
    const x = (a + f + K[i] + m[g]) >>> 0;
    b = (b + ((x << S[i]) | (x >>> (32 - S[i])))) >>> 0;
    a = tmp;
  }
  state[0] = (state[0] + a) >>> 0;
  state[1] = (state[1] + b) >>> 0;
  state[2] = (state[2] + c) >>> 0;
  state[3] = (state[3] + d) >>> 0;
}

/** MD5 of `data`, starting from `state` that has already consumed `prefixLength` bytes (a multiple of 64). */
function md5Resume(state: readonly number[], prefixLength: number, data: Buffer): Buffer {
  const s = [...state];
  const total = prefixLength + data.length;
  const padLen = (data.length + 9 + 63) & ~63;
  const buf = Buffer.alloc(padLen);
  data.copy(buf);
  buf[data.length] = 0x80;
  const bits = BigInt(total) * 8n;
  buf.writeBigUInt64LE(bits, padLen - 8);
  for (let off = 0; off < padLen; off += 64) md5Block(s, buf, off);
  const out = Buffer.alloc(16);
  s.forEach((v, i) => out.writeUInt32LE(v, i * 4));
  return out;
}

function stateAfterPad(key: Buffer, pad: number): number[] {
  const block = Buffer.alloc(64, pad);
  for (let i = 0; i < key.length; i++) block[i] = key[i] ^ pad;
  const s = [...MD5_INIT];
  md5Block(s, block, 0);
  return s;
}

/** Dovecot's 32-byte HMAC-MD5 context for a password: outer state then inner state, little-endian words. */
export function cramMd5Context(password: string): Buffer {
  let key: Buffer = Buffer.from(password, 'utf8');
  if (key.length > 64) key = md5Resume(MD5_INIT, 0, key);
  const inner = stateAfterPad(key, 0x36);
  const outer = stateAfterPad(key, 0x5c);
  const out = Buffer.alloc(32);
  [...outer, ...inner].forEach((v, i) => out.writeUInt32LE(v, i * 4));
  return out;
}

/** HMAC-MD5(key, challenge) computed from a stored context, as the CRAM-MD5 mechanism needs. */
export function hmacMd5FromContext(context: Buffer, challenge: Buffer): Buffer {
  if (context.length !== 32) throw new Error('CRAM-MD5 context must be 32 bytes');
  const words = Array.from({ length: 8 }, (_, i) => context.readUInt32LE(i * 4));
  const outer = words.slice(0, 4);
  const inner = words.slice(4, 8);
  const innerDigest = md5Resume(inner, 64, challenge);
  return md5Resume(outer, 64, innerDigest);
}

/** HMAC-MD5 with the plaintext password as key (when the passdb holds the plaintext). */
export function hmacMd5(password: string, challenge: Buffer): Buffer {
  return createHmac('md5', Buffer.from(password, 'utf8')).update(challenge).digest();
}

export const cramMd5Scheme: PasswordScheme = {
  name: 'CRAM-MD5',
  aliases: ['HMAC-MD5'],
  defaultEncoding: 'hex',
  rawLength: 32,
  async verify(password, raw) {
    return constantTimeEqual(cramMd5Context(password), raw);
  },
  async generate(password) {
    return cramMd5Context(password);
  },
};
