// IMAP as daemon services: STARTTLS on [imap] port (standard 143) and implicit TLS on ssl_port (993).
import type { ServiceDefinition } from '../../server/service.js';
import type { ServerContext } from '../../server/context.js';
import { ImapSession } from './session.js';

export function imapServices(ctx: ServerContext): ServiceDefinition[] {
  return [
    {
      name: 'imap',
      listeners: [
        { name: 'imap', kind: 'tcp', port: ctx.config.imap.port },
        { name: 'imaps', kind: 'tls', port: ctx.config.imap.ssl_port },
        {
          name: 'imap-websocket',
          kind: ctx.config.imap.websocket_tls ? 'websocket-tls' : 'websocket',
          port: ctx.config.imap.websocket_port,
          httpPath: ctx.config.imap.websocket_path,
          subprotocol: 'imap',
        },
      ],
      createSession: (conn) => new ImapSession(conn, ctx),
      refusal: (reason) => (reason === 'too-many-from-ip' ? '* BYE Too many connections from your IP.\r\n' : '* BYE Too many connections.\r\n'),
    },
  ];
}
