// [mail]: where users' mail lives (Dovecot's mail_location syntax) and how it is written.
import { bool, section, str } from '../define.js';

export const mailSection = section('Mail storage.', {
  mail_location: str('', 'Default mail location in Dovecot syntax (empty: maildir:<data>/mail/%u/Maildir); %u user, %n local part, %d domain, ~ home.'),
  mail_fsync: bool(true, 'fsync every message and index write before acknowledging it.'),
});
