// Drops root privileges after the listeners are bound (standard ports), to the configured mail user,
// as Dovecot's services do; a non-root start keeps its user.
import { execFileSync } from 'node:child_process';
import { getLogger } from '../lib/logger.js';

const log = getLogger({ component: 'privileges' });

export function lookupUserIds(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`cannot resolve user ${name}`);
  return { uid, gid };
}

export function dropPrivileges(userName: string): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    log.info({ user: userName }, 'not running as root; mail_user ignored');
    return;
  }
  const { uid, gid } = lookupUserIds(userName);
  process.setgroups?.([gid]);
  process.setgid!(gid);
  process.setuid!(uid);
  log.info({ user: userName, uid, gid }, 'dropped privileges');
}
