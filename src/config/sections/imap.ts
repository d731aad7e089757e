// [imap]: IMAP listeners (STARTTLS and implicit TLS), IMAP over WebSocket, and the
// wire limits of RFC 9051 servers (line length, literal size) with Dovecot's names.
import { bool, int, port, section, size, str, duration } from '../define.js';

export const imapSection = section('IMAP (RFC 3501, RFC 9051).', {
  port: port(1143, 'IMAP port with STARTTLS (standard: 143).'),
  ssl_port: port(1993, 'IMAPS port, implicit TLS (standard: 993).'),
  websocket_port: port(8143, 'IMAP over WebSocket port (ws://, wss:// when websocket_tls is set).'),
  websocket_tls: bool(false, 'Serve the WebSocket endpoint over TLS (wss://) with the [tls] certificate.'),
  websocket_path: str('/imap', 'HTTP path of the IMAP WebSocket endpoint.'),
  imap_max_line_length: size(65536, 'Longest command line in bytes, literals excluded.'),
  imap_max_literal_size: size(50 * 1024 * 1024, 'Largest literal (APPEND message) in bytes.'),
  imap_idle_notify_interval: duration(120_000, 'How often an IDLE session gets a keepalive.'),
  imap_client_timeout: duration(30 * 60_000, 'Idle time after login before the connection is closed (RFC 9051: at least 30 min).'),
  mail_max_userip_connections: int(20, 'Most IMAP sessions of one user from one IP.', 1),
});
