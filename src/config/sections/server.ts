// [server]: listening addresses, host name, secured networks, connection limits and timeouts
// shared by every service (Dovecot's names: listen, login_trusted_networks, auth_allow_cleartext).
import { bool, checkAddress, checkNetwork, duration, int, section, str, strList } from '../define.js';

export const serverSection = section('Listeners, limits and timeouts shared by every service.', {
  listen: strList(['127.0.0.1'], 'Addresses every service listens on ("*" for all IPv4, "::" for all).', checkAddress),
  hostname: str('', 'Host name used in greetings, the self-signed certificate and mydestination (empty: the system host name).'),
  login_trusted_networks: strList([], 'Networks whose connections count as secured (plaintext auth allowed), besides loopback and TLS.', checkNetwork),
  auth_allow_cleartext: bool(false, 'Allow plaintext authentication on connections that are not secured.'),
  login_greeting: str('Roost ready.', 'Text of the IMAP and POP3 greetings.'),
  mail_user: str('', 'System user to drop to after binding when started as root (empty: stay as the starting user).'),
  max_connections: int(5000, 'Most connections per service at once.', 1),
  max_connections_per_ip: int(100, 'Most connections per service from one client IP at once.', 1),
  preauth_timeout: duration(60_000, 'Idle time before a connection that has not logged in is closed.'),
  shutdown_grace: duration(5_000, 'How long SIGTERM waits for sessions to finish before closing them.'),
});
