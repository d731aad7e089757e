// Dovecot's auth-master (userdb) protocol (auth-master-connection.c) on run/auth-userdb, so an MTA or
// delivery agent can validate recipients: USER lookups answered USER/NOTFOUND/FAIL, LIST answered LIST.../DONE.
import type { Socket } from 'node:net';
import { AuthTemporaryError, type AuthService } from '../../auth/service.js';
import type { UserRecord } from '../../auth/types.js';
import { getLogger } from '../../lib/logger.js';
import { readLines, tabEscape, tabUnescape, writeLine } from './wire.js';

const log = getLogger({ component: 'auth-userdb' });

export const AUTH_MASTER_PROTOCOL_MAJOR = 1;
export const AUTH_MASTER_PROTOCOL_MINOR = 1;
const MAX_LINE_LENGTH = 16384;

/** Userdb fields as Dovecot sends them after the user name. */
export function userdbFields(record: UserRecord): string[] {
  const out: string[] = [];
  if (record.uid !== undefined) out.push(`uid=${record.uid}`);
  if (record.gid !== undefined) out.push(`gid=${record.gid}`);
  if (record.home) out.push(`home=${tabEscape(record.home)}`);
  if (record.mail) out.push(`mail=${tabEscape(record.mail)}`);
  if (record.quotaRule) out.push(`quota_rule=${tabEscape(record.quotaRule)}`);
  for (const [k, v] of Object.entries(record.extra)) out.push(v === '' ? tabEscape(k) : `${tabEscape(k)}=${tabEscape(v)}`);
  return out;
}

export function serveAuthUserdb(socket: Socket, auth: AuthService): void {
  let versionSeen = false;
  const send = (...fields: string[]) => writeLine(socket, fields);
  const disconnect = (why: string) => {
    log.warn({ reason: why }, 'auth-userdb client protocol error; disconnecting');
    socket.end();
  };
  socket.on('error', (err) => log.debug({ err: err.message }, 'auth-userdb socket error'));

  send('VERSION', String(AUTH_MASTER_PROTOCOL_MAJOR), String(AUTH_MASTER_PROTOCOL_MINOR));
  send('SPID', String(process.pid));

  const lookup = async (id: string, name: string) => {
    try {
      let record = await auth.lookupUser(name);
      if (!record && name.includes('@')) record = await auth.resolveRecipient(name);
      if (record) send('USER', id, tabEscape(record.user), ...userdbFields(record));
      else send('NOTFOUND', id);
    } catch (err) {
      const temporary = err instanceof AuthTemporaryError;
      log.warn({ id, err: (err as Error).message }, 'userdb lookup failed');
      send('FAIL', id, `reason=${temporary ? 'Temporary userdb failure' : 'Internal userdb failure'}`);
    }
  };

  const list = async (id: string) => {
    const userdb = auth.userdb;
    if (!userdb.list) {
      send('DONE', id, 'fail');
      return;
    }
    try {
      for (const user of await userdb.list()) send('LIST', id, tabEscape(user));
      send('DONE', id);
    } catch (err) {
      log.warn({ id, err: (err as Error).message }, 'userdb list failed');
      send('DONE', id, 'fail');
    }
  };

  readLines(
    socket,
    MAX_LINE_LENGTH,
    (line) => {
      const args = line.split('\t');
      const command = args.shift()!;
      if (!versionSeen) {
        if (command !== 'VERSION' || args[0] !== String(AUTH_MASTER_PROTOCOL_MAJOR)) return disconnect('expected VERSION 1.x first');
        versionSeen = true;
        return;
      }
      const id = args[0];
      if (!id || !/^\d+$/.test(id)) return disconnect(`broken ${command.slice(0, 32)}`);
      switch (command) {
        case 'USER':
          if (!args[1]) return disconnect('USER without a user name');
          void lookup(id, tabUnescape(args[1]));
          return;
        case 'LIST':
          void list(id);
          return;
        case 'PASS':
          send('FAIL', id, 'reason=PASS lookups are not supported');
          return;
        default:
          return disconnect(`unknown command ${command.slice(0, 32)}`);
      }
    },
    () => disconnect('line too long'),
  );
}
