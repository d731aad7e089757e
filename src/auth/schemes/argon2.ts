// ARGON2ID and ARGON2I schemes (RFC 9106) in the PHC string format Dovecot writes
// ($argon2id$v=19$m=65536,t=3,p=1$salt$hash), through @node-rs/argon2's async (off-loop) API.
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import type { PasswordScheme } from './types.js';

// @node-rs/argon2's Algorithm is a const enum, which isolated modules cannot read; its values are fixed.
const ARGON2I = 1 as Algorithm;
const ARGON2ID = 2 as Algorithm;

function argon2Scheme(name: string, prefix: string, algorithm: Algorithm, memoryCost: number, timeCost: number): PasswordScheme {
  return {
    name,
    defaultEncoding: 'none',
    async verify(password, raw) {
      const stored = raw.toString('utf8');
      if (!stored.startsWith(prefix)) return false;
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
    async generate(password, opts) {
      return Buffer.from(
        await hash(password, { algorithm, memoryCost, timeCost: opts.rounds ?? timeCost, parallelism: 1, outputLen: 32, salt: opts.salt }),
        'utf8',
      );
    },
  };
}

/** Dovecot's defaults: ARGON2ID m=64 MiB t=3, ARGON2I m=32 MiB t=4. */
export const argon2idScheme = argon2Scheme('ARGON2ID', '$argon2id$', ARGON2ID, 65536, 3);
export const argon2iScheme = argon2Scheme('ARGON2I', '$argon2i$', ARGON2I, 32768, 4);
