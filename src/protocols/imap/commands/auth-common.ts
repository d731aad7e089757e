// What LOGIN and AUTHENTICATE share: the client description for the auth service and the end of
// a login (RFC 5530 codes: AUTHENTICATIONFAILED for bad credentials, UNAVAILABLE for backend trouble).
import type { SaslStep, ClientInfo } from '../../../auth/service.js';
import { no, type Completion, type ImapSessionApi } from '../types.js';

export function clientInfo(s: ImapSessionApi): ClientInfo {
  return s.conn.clientInfo();
}

export async function finishLogin(s: ImapSessionApi, result: SaslStep): Promise<Completion> {
  if (result.kind === 'success') return s.login(result.user, { masterUser: result.masterUser });
  if (result.kind === 'failure') {
    s.log.info({ reason: result.reason, temporary: result.temporary }, 'authentication failed');
    if (result.temporary) return no('Temporary authentication failure.', 'UNAVAILABLE');
  }
  return no('Authentication failed.', 'AUTHENTICATIONFAILED');
}
