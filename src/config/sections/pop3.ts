// [pop3]: POP3 listeners (STLS and implicit TLS) and Dovecot's POP3 settings (RFC 1939, RFC 2449).
import { bool, port, section, str } from '../define.js';

export const pop3Section = section('POP3 (RFC 1939).', {
  port: port(1110, 'POP3 port with STLS (standard: 110).'),
  ssl_port: port(1995, 'POP3S port, implicit TLS (standard: 995).'),
  pop3_uidl_format: str('%08Xu%08Xv', 'UIDL format with Dovecot variables (%u uid, %v uidvalidity, %m md5, %f filename, %g guid).'),
  pop3_reuse_xuidl: bool(false, 'Use an X-UIDL header in a message as its UIDL (mail migrated from other POP3 servers).'),
  pop3_lock_session: bool(true, 'One POP3 session per mailbox at a time; a second gets [IN-USE].'),
  pop3_deleted_flag: str('', 'Keyword set instead of expunging on DELE (empty: really delete).'),
});
