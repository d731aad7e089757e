// The end of every POP3 login (PASS, APOP, AUTH): success opens the maildrop; failure gives the
// same reply whatever the cause, [AUTH] for bad credentials, [SYS/TEMP] for a backend failure (RFC 3206).
import type { Pop3SessionApi } from '../types.js';
import type { SaslStep } from '../../../auth/service.js';

export async function finishAuthentication(s: Pop3SessionApi, result: SaslStep): Promise<void> {
  if (result.kind === 'success') {
    await s.enterTransaction(result.user.user, result.user);
    return;
  }
  if (result.kind === 'failure') {
    s.log.info({ reason: result.reason, temporary: result.temporary }, 'authentication failed');
    if (result.temporary) return s.err('Temporary authentication failure.', 'SYS/TEMP');
    return s.err('Authentication failed.', 'AUTH');
  }
  s.err('Authentication failed.', 'AUTH');
}
