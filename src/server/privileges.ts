// Drops root privileges after the listeners are bound (standard ports), to the configured mail user,
// as Dovecot's services do; what the daemon made as root in the data directory is handed over first.
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'privileges' });

export function lookupUserIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve user ${name}`);
  return { uid, gid };
}

/** Gives a path (and, for a directory, what is inside) to uid:gid; symbolic links are not followed. */
function chownTree(path: string, uid: number, gid: number): void {
  if (!existsSync(path)) return;
  const st = lstatSync(path);
  if (st.isSymbolicLink()) return;
  chownSync(path, uid, gid);
  if (st.isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Hands the data directory's run/, certs/, tmp/ and the passwd-file to the mail user (so sockets can be removed
 * at shutdown, certificates re-read on SIGHUP and the demo user deleted), then switches uid and gid for good.
 */
export function dropPrivileges(userName: string, dataDir: string, handOver: string[]): void {
  if (!runningAsRoot()) {
    log.info({ user: userName }, 'not running as root; mail_user ignored');
    return;
  }
  const { uid, gid } = lookupUserIds(userName);
  chownSync(dataDir, uid, gid);
  for (const p of handOver) chownTree(join(dataDir, p), uid, gid);
  process.setgroups?.([gid]);
  process.setgid!(gid);
  process.setuid!(uid);
  log.info({ user: userName, uid, gid }, 'dropped privileges');
}
