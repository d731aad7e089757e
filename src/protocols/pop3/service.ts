// POP3 as daemon services: STLS on [pop3] port (standard 110) and implicit TLS on ssl_port (995).
import type { ServiceDefinition } from '../../server/service.js';
import type { ServerContext } from '../../server/context.js';
import { Pop3Session } from './session.js';

export function pop3Services(ctx: ServerContext): ServiceDefinition[] {
  return [
    {
      name: 'pop3',
      listeners: [
        { name: 'pop3', kind: 'tcp', port: ctx.config.pop3.port },
        { name: 'pop3s', kind: 'tls', port: ctx.config.pop3.ssl_port },
      ],
      createSession: (conn) => new Pop3Session(conn, ctx),
      refusal: (reason) => (reason === 'too-many-from-ip' ? '-ERR [SYS/TEMP] Too many connections from your IP.\r\n' : '-ERR [SYS/TEMP] Too many connections.\r\n'),
    },
  ];
}
