// The first-run demo account: when the passwd-file is missing or has no users, add "demo" with a
// random password (marked roost_demo=1) so a fresh install can log in; the daemon refuses public listeners while it exists.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, isAbsolute, join } from 'node:path';
import type { Config } from '../config/schema.js';
import { addPasswdUser, parsePasswdLine } from './passwd-file.js';
import { hashPassword } from './schemes/index.js';

export const DEMO_USER = 'demo';
export const DEMO_MARKER = 'roost_demo';

export function passwdFilePath(dataDir: string, config: Config): string {
  const p = config.auth.passwd_file;
  return isAbsolute(p) ? p : join(dataDir, p);
}

function users(path: string): { user: string; extra: Record<string, string> }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => parsePasswdLine(l.replace(/\r$/, '')))
    .filter((e): e is NonNullable<typeof e> => e !== undefined);
}

/** Adds the demo user when there are no users; returns its password once (it is stored only hashed). */
export async function ensureDemoUser(dataDir: string, config: Config): Promise<{ created: boolean; user?: string; password?: string }> {
  const path = passwdFilePath(dataDir, config);
  if (users(path).length > 0) return { created: false };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const password = randomBytes(12).toString('base64url');
  const hash = await hashPassword(config.auth.default_pass_scheme, password, { blfCryptCost: config.auth.blf_crypt_cost });
  await addPasswdUser(path, { user: DEMO_USER, password: hash, extra: { [DEMO_MARKER]: '1' } });
  return { created: true, user: DEMO_USER, password };
}

/** True while the passwd-file still holds the demo account (a line carrying roost_demo=1). */
export function hasDemoUser(dataDir: string, config: Config): boolean {
  return users(passwdFilePath(dataDir, config)).some((e) => e.extra[DEMO_MARKER] !== undefined);
}
