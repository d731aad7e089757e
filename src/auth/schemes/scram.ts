// SCRAM-SHA-256 and SCRAM-SHA-1 stored credentials in Dovecot's layout (password-scheme-scram.c):
// "iterations,base64 salt,base64 StoredKey,base64 ServerKey" (RFC 5802 section 3), 4096 iterations by default.
import { createHash, createHmac, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { constantTimeEqual } from './compare.js';
import { saltBytes } from './salt.js';
import type { PasswordScheme } from './types.js';

const pbkdf2Async = promisify(pbkdf2);
export const SCRAM_DEFAULT_ITERATIONS = 4096;
const SCRAM_MIN_ITERATIONS = 4096;

export type ScramHash = 'sha256' | 'sha1';

export interface ScramKeys {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** SaltedPassword -> StoredKey, ServerKey (RFC 5802 section 3), with Hi computed asynchronously. */
export async function deriveScramKeys(hashName: ScramHash, password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
  const length = hashName === 'sha256' ? 32 : 20;
  const salted = await pbkdf2Async(Buffer.from(password, 'utf8'), salt, iterations, length, hashName);
  const clientKey = createHmac(hashName, salted).update('Client Key').digest();
  return {
    iterations,
    salt,
    storedKey: createHash(hashName).update(clientKey).digest(),
    serverKey: createHmac(hashName, salted).update('Server Key').digest(),
  };
}

export function parseScramCredentials(hashName: ScramHash, text: string): ScramKeys | undefined {
  const fields = text.split(',');
  if (fields.length !== 4) return undefined;
  const iterations = Number(fields[0]);
  if (!/^\d+$/.test(fields[0]) || iterations < SCRAM_MIN_ITERATIONS || iterations > 0x7fffffff) return undefined;
  const length = hashName === 'sha256' ? 32 : 20;
  const storedKey = Buffer.from(fields[2], 'base64');
  const serverKey = Buffer.from(fields[3], 'base64');
  if (storedKey.length !== length || serverKey.length !== length) return undefined;
  return { iterations, salt: Buffer.from(fields[1], 'base64'), storedKey, serverKey };
}

export function formatScramCredentials(keys: ScramKeys): string {
  return `${keys.iterations},${keys.salt.toString('base64')},${keys.storedKey.toString('base64')},${keys.serverKey.toString('base64')}`;
}

function scramScheme(name: string, hashName: ScramHash): PasswordScheme {
  return {
    name,
    defaultEncoding: 'none',
    async verify(password, raw) {
      const keys = parseScramCredentials(hashName, raw.toString('utf8'));
      if (!keys) return false;
      const computed = await deriveScramKeys(hashName, password, keys.salt, keys.iterations);
      return constantTimeEqual(computed.storedKey, keys.storedKey);
    },
    async generate(password, opts) {
      const iterations = Math.max(SCRAM_MIN_ITERATIONS, opts.rounds ?? SCRAM_DEFAULT_ITERATIONS);
      const keys = await deriveScramKeys(hashName, password, opts.salt ?? saltBytes(16), iterations);
      return Buffer.from(formatScramCredentials(keys), 'utf8');
    },
  };
}

export const scramSha256Scheme = scramScheme('SCRAM-SHA-256', 'sha256');
export const scramSha1Scheme = scramScheme('SCRAM-SHA-1', 'sha1');
