// A scripted LMTP server (RFC 2033) for tests of the queue manager's LMTP client: PIPELINING, every recipient
// accepted, and on request a connection lost after the end of data with only some recipients answered.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ScriptedLmtpOptions {
  /** Listen here (default: any free port). */
  port?: number;
  /** After the end of data of this transaction (counted from 1 over all connections), close the connection... */
  dropAt?: number;
  /** ...once this many of its recipients have been answered. */
  repliesBeforeDrop?: number;
}

export async function scriptedLmtp(opts: ScriptedLmtpOptions = {}) {
  const log = { connections: 0, transactions: 0, delivered: [] as string[] };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    log.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    let inData = false;
    let rcpts: string[] = [];
    socket.write('220 fake LMTP\r\n');
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buf = buf.slice(end + 5);
          inData = false;
          log.transactions++;
          const drop = log.transactions === opts.dropAt;
          rcpts.forEach((r, i) => {
            if (drop && i >= (opts.repliesBeforeDrop ?? 0)) return;
            log.delivered.push(r);
            socket.write(`250 2.0.0 <${r}> saved\r\n`);
          });
          if (drop) return void socket.destroy();
          rcpts = [];
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'LHLO') socket.write('250-fake\r\n250 PIPELINING\r\n');
        else if (verb === 'MAIL' || verb === 'RSET') socket.write('250 2.1.0 Ok\r\n');
        else if (verb === 'RCPT') {
          rcpts.push(/<([^>]*)>/.exec(line)![1]!);
          socket.write('250 2.1.5 Ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  /** Goes away as a restarted server would: no listener, every connection closed. */
  const stop = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
  };
  return { port: (server.address() as AddressInfo).port, log, stop };
}
