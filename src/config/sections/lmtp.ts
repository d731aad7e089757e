// [lmtp]: the LMTP delivery endpoint (RFC 2033) on TCP and a unix socket.
import { port, section, size, str, bool } from '../define.js';

export const lmtpSection = section('LMTP delivery (RFC 2033).', {
  port: port(2424, 'LMTP TCP port (standard: 24).'),
  socket_path: str('run/lmtp', 'LMTP unix socket, relative to the data directory (empty: none).'),
  recipient_delimiter: str('+', 'Characters that separate a user from a detail (user+detail@domain).'),
  max_message_size: size(50 * 1024 * 1024, 'Largest message LMTP accepts (552 5.3.4 beyond it); 0 means no limit.'),
  quota_full_tempfail: bool(false, 'Answer 452 4.2.2 (try again later) instead of 552 5.2.2 when a mailbox is over quota.'),
  lmtp_save_to_detail_mailbox: bool(false, 'Deliver user+detail to the mailbox named detail when it exists.'),
});
