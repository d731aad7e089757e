// Workload "lmtp": delivery throughput and latency over LMTP (RFC 2033) with PIPELINING (RFC 2920) of MAIL/RCPT/DATA,
// 4 KB and 100 KB messages, 1 and 8 connections, one recipient per message across four users, new users each repetition.
import { performance } from 'node:perf_hooks';
import { wireMessage } from '../corpus.js';
import { benchUsers } from '../sides.js';
import { LineSocket, ProtocolError, smtpReply } from '../net.js';
import type { BenchCase, Server, Workload } from '../types.js';
import { deliveryUserCount, nextRecipients, primeMailboxes, runConcurrent, scaled, startSide } from './common.js';

const SIZES = [4 * 1024, 100 * 1024];
const CONNECTIONS = [1, 8];
const POOL = 16;
const pools = new Map<number, Buffer[]>();

function messagePool(size: number): Buffer[] {
  let pool = pools.get(size);
  if (!pool) {
    pool = Array.from({ length: POOL }, (_, i) => wireMessage(7, 100_000 + size + i, size));
    pools.set(size, pool);
  }
  return pool;
}

async function expectCode(reply: Promise<{ code: number; text: string }>, want: number): Promise<void> {
  checkCode(await reply, want);
}

function checkCode(reply: { code: number; text: string }, want: number): void {
  if (reply.code !== want) throw new ProtocolError(`expected ${want}, got ${reply.text}`);
}

interface Session {
  socket: LineSocket;
  eightBit: boolean;
}

const lmtp: Workload = {
  name: 'lmtp',
  description: 'LMTP delivery into Maildir: MAIL, RCPT and DATA pipelined, one recipient per message, saves fsynced on both sides; each repetition delivers to four users of its own, whose mailboxes hold one message before it',
  opName: 'messages',
  reportBytes: true,
  cases() {
    const out: BenchCase[] = [];
    for (const size of SIZES)
      for (const connections of CONNECTIONS)
        out.push({ id: `${size / 1024}k-c${connections}`, label: `${size / 1024} KB, ${connections} conn`, params: { size, connections } });
    return out;
  },
  async setup(kind, context) {
    const users = benchUsers(deliveryUserCount(SIZES.length * CONNECTIONS.length, context.options));
    const server = await startSide(kind, context, { users, services: ['lmtp'] });
    try {
      await primeMailboxes(server.endpoints.lmtp!, 'LHLO', users);
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  },
  async run(server: Server, benchCase, { options, warmup }) {
    const size = Number(benchCase.params.size);
    const connections = Number(benchCase.params.connections);
    const perRep = size > 10_000 ? scaled(options.quick, 16, 150, options.scale) : scaled(options.quick, 40, 600, options.scale);
    const total = warmup ? Math.max(connections, Math.ceil(perRep / 4)) : perRep;
    const pool = messagePool(size);
    const port = server.endpoints.lmtp!;
    const recipients = nextRecipients(server);
    return runConcurrent<Session>(
      total,
      connections,
      async () => {
        const socket = await LineSocket.connect({ port });
        await expectCode(socket.expect(smtpReply()), 220);
        const lhlo = await socket.send('LHLO bench.client.test\r\n', smtpReply());
        if (lhlo.code !== 250) throw new ProtocolError(`LHLO refused: ${lhlo.text}`);
        return { socket, eightBit: /8BITMIME/i.test(lhlo.text) };
      },
      async (session, op, latencies) => {
        const user = recipients[op % recipients.length]!.name;
        const message = pool[op % pool.length]!;
        const started = performance.now();
        const body = session.eightBit ? ' BODY=8BITMIME' : '';
        const mail = session.socket.expect(smtpReply());
        const rcpt = session.socket.expect(smtpReply());
        const data = session.socket.expect(smtpReply());
        session.socket.write(`MAIL FROM:<sender@example.org>${body}\r\nRCPT TO:<${user}@localhost>\r\nDATA\r\n`);
        // Promise.all so that every pipelined reply has a handler, also when the connection drops.
        const [mailReply, rcptReply, dataReply] = await Promise.all([mail, rcpt, data]);
        checkCode(mailReply, 250);
        checkCode(rcptReply, 250);
        checkCode(dataReply, 354);
        await expectCode(session.socket.send(message, smtpReply()), 250);
        latencies.push(performance.now() - started);
        return message.length;
      },
      async (session) => {
        await session.socket.send('QUIT\r\n', smtpReply()).catch(() => undefined);
        session.socket.close();
      },
    );
  },
  teardown: (server) => server.stop(),
};

export default lmtp;
