// The Dovecot-compatible auth sockets: the auth-client protocol (SASL for Postfix and login services)
// and the auth-master userdb protocol; the daemon calls these for each accepted connection.
export { serveAuthClient, AUTH_CLIENT_MAX_LINE_LENGTH, type AuthClientOptions } from './client-protocol.js';
export { serveAuthUserdb, userdbFields } from './userdb-protocol.js';
export { tabEscape, tabUnescape } from './wire.js';
