// The auth socket as daemon services: the auth-client protocol on run/auth-client and TCP,
// and the auth-userdb protocol on run/auth-userdb (Dovecot-compatible, for Postfix and other MTAs).
import type { ServiceDefinition } from '../../server/service.js';
import type { ServerContext } from '../../server/context.js';
import { serveAuthClient, serveAuthUserdb } from './index.js';

export function authSocketServices(ctx: ServerContext): ServiceDefinition[] {
  const cfg = ctx.config.auth;
  const client: ServiceDefinition = {
    name: 'auth',
    perIpLimit: false,
    listeners: [
      { name: 'auth-client', kind: 'unix', path: cfg.socket_path ? ctx.dataPath(cfg.socket_path) : undefined, mode: cfg.socket_mode },
      { name: 'auth', kind: 'tcp', port: cfg.port },
    ],
    createSession(conn) {
      serveAuthClient(conn.rawSocket, ctx.auth);
      return { shutdown: () => conn.end() };
    },
  };
  const userdb: ServiceDefinition = {
    name: 'auth-userdb',
    perIpLimit: false,
    listeners: [{ name: 'auth-userdb', kind: 'unix', path: cfg.userdb_socket_path ? ctx.dataPath(cfg.userdb_socket_path) : undefined, mode: cfg.socket_mode }],
    createSession(conn) {
      serveAuthUserdb(conn.rawSocket, ctx.auth);
      return { shutdown: () => conn.end() };
    },
  };
  return [client, userdb];
}
