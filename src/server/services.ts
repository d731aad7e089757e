// The list of protocol services the daemon runs, built from the config: each protocol module
// turns the shared context into a ServiceDefinition with its listeners.
import type { ServiceDefinition } from './service.js';
import type { ServerContext } from './context.js';
import { authSocketServices } from '../protocols/auth-socket/service.js';
import { imapServices } from '../protocols/imap/service.js';
import { pop3Services } from '../protocols/pop3/service.js';
import { lmtpServices } from '../protocols/lmtp/service.js';
import { smtpServices } from '../mta/service.js';

export function buildServices(ctx: ServerContext): ServiceDefinition[] {
  return [...authSocketServices(ctx), ...imapServices(ctx), ...pop3Services(ctx), ...lmtpServices(ctx), ...smtpServices(ctx)];
}
