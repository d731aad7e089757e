// The queue manager's LMTP client (RFC 2033 over RFC 2920 PIPELINING): DATA encoding (RFC 5321 4.5.2) against a
// byte-by-byte reference under any chunking, transactions one after another on one cached connection, per-recipient
// replies, and a connection lost in the middle leaving only the recipients without a reply to be tried again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SMTPServer } from 'smtp-server';
import { DataEncoder, LmtpPool, LmtpUnavailable } from '../../../src/mta/lmtp-client.js';
import { tcpEndpoint, type Transaction } from '../../../src/mta/delivery.js';
import { scriptedLmtp } from '../../helpers/scripted-lmtp.js';
import { chunked } from '../../helpers/chunks.js';

/** The rule byte by byte: bare CR and bare LF become CRLF, a dot at a line start is doubled, then the terminator. */
function reference(input: Buffer): string {
  let out = '';
  let prev = 0x0a;
  for (const byte of input) {
    if (prev === 0x0d && byte !== 0x0a) out += '\n' + (byte === 0x2e ? '.' : '');
    else if (byte === 0x0a && prev !== 0x0d) out += '\r';
    else if (byte === 0x2e && prev === 0x0a) out += '.';
    out += String.fromCharCode(byte);
    prev = byte;
  }
  return out + (prev === 0x0a ? '.\r\n' : prev === 0x0d ? '\n.\r\n' : '\r\n.\r\n');
}

function encode(chunks: Buffer[]): string {
  const e = new DataEncoder();
  return Buffer.concat([...chunks.map((c) => e.encode(c)), e.end()]).toString('latin1');
}

test('DATA encoding: examples', () => {
  const cases: [string, string][] = [
    ['Subject: x\r\n\r\nbody\r\n', 'Subject: x\r\n\r\nbody\r\n.\r\n'],
    ['.starts\r\n..two\r\nmid.dle\r\n.\r\n', '..starts\r\n...two\r\nmid.dle\r\n..\r\n.\r\n'],
    ['bare\nlf\n.dot\n', 'bare\r\nlf\r\n..dot\r\n.\r\n'],
    ['bare\rcr\r.dot', 'bare\r\ncr\r\n..dot\r\n.\r\n'],
    ['no final line end', 'no final line end\r\n.\r\n'],
    ['ends in cr\r', 'ends in cr\r\n.\r\n'],
    ['', '.\r\n'],
  ];
  for (const [input, want] of cases) assert.equal(encode([Buffer.from(input, 'latin1')]), want, JSON.stringify(input));
  // A clean chunk is passed on as it is, not copied.
  const clean = Buffer.from('a\r\nb\r\n');
  assert.equal(new DataEncoder().encode(clean), clean);
});

test('DATA encoding: any chunking agrees with the byte-by-byte reference', () => {
  const text = fc.array(fc.constantFrom('a', '.', '\r', '\n', '\r\n', '..', ' '), { maxLength: 40 }).map((parts) => Buffer.from(parts.join(''), 'latin1'));
  fc.assert(
    fc.property(text, fc.array(fc.nat(40), { maxLength: 6 }), (input, cuts) => {
      assert.equal(encode(chunked(input, cuts)), reference(input));
    }),
    { numRuns: 2000 },
  );
});

const servers: { close(): unknown }[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** smtp-server in LMTP mode: records every connection and every delivered message; "nobody" is refused at RCPT. */
async function lmtpServer() {
  const seen = { connections: 0, messages: [] as { from: string; to: string[]; body: string; session: string }[] };
  const server = new SMTPServer({
    lmtp: true,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_s, cb) {
      seen.connections++;
      cb();
    },
    onRcptTo(address, _s, cb) {
      cb(address.address.startsWith('nobody@') ? Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 }) : undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        seen.messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), body: Buffer.concat(chunks).toString('latin1'), session: session.id });
        cb(null, session.envelope.rcptTo.map(() => 'Saved') as unknown as string);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.server.address() as AddressInfo).port, seen };
}

const tx = (n: number, to: string[], body = `Subject: m${n}\r\n\r\n.dotted line ${n}\r\nend\r\n`): Transaction => ({
  sender: `sender${n}@example.org`,
  recipients: to.map((address, index) => ({ index, address })),
  content: () => [Buffer.from(body)],
  size: body.length,
});

test('one cached connection carries transaction after transaction; the content arrives as sent', async () => {
  const { port, seen } = await lmtpServer();
  const pool = new LmtpPool({ endpoint: tcpEndpoint('127.0.0.1', port), heloName: 'roost.test' }, 4);
  try {
    for (let n = 0; n < 5; n++) {
      const outcomes = await pool.deliver(tx(n, ['a@x.test', 'b@x.test']));
      assert.deepEqual(outcomes.map((o) => [o.index, o.status, o.dsn]), [[0, 'sent', '2.0.0'], [1, 'sent', '2.0.0']]);
    }
    assert.equal(seen.connections, 1, 'every transaction on the one cached connection');
    assert.equal(pool.opened, 1);
    assert.equal(new Set(seen.messages.map((m) => m.session)).size, 1);
    assert.deepEqual(seen.messages.map((m) => m.body), [0, 1, 2, 3, 4].map((n) => `Subject: m${n}\r\n\r\n.dotted line ${n}\r\nend\r\n`));
    assert.deepEqual(seen.messages[4]!.to, ['a@x.test', 'b@x.test']);
  } finally {
    pool.close();
  }
});

test('a refused recipient gets its own reply, the others are delivered, and the connection goes on', async () => {
  const { port, seen } = await lmtpServer();
  const pool = new LmtpPool({ endpoint: tcpEndpoint('127.0.0.1', port), heloName: 'roost.test' }, 4);
  try {
    const first = await pool.deliver(tx(1, ['a@x.test', 'nobody@x.test', 'c@x.test']));
    assert.deepEqual(first.map((o) => [o.status, o.dsn]), [['sent', '2.0.0'], ['bounced', '5.1.1'], ['sent', '2.0.0']]);
    // Every recipient refused: DATA is refused too, nothing is delivered, and the next transaction still works.
    const none = await pool.deliver(tx(2, ['nobody@x.test']));
    assert.deepEqual(none.map((o) => o.status), ['bounced']);
    const next = await pool.deliver(tx(3, ['a@x.test']));
    assert.deepEqual(next.map((o) => o.status), ['sent']);
    assert.deepEqual(seen.messages.map((m) => m.to), [['a@x.test', 'c@x.test'], ['a@x.test']]);
    assert.equal(seen.connections, 1);
  } finally {
    pool.close();
  }
});

test('a connection lost after the end of data: replied recipients are final, the rest defer as unacknowledged', async () => {
  const { port, log, stop: stopServer } = await scriptedLmtp({ dropAt: 2, repliesBeforeDrop: 1 });
  servers.push({ close: stopServer });
  const pool = new LmtpPool({ endpoint: tcpEndpoint('127.0.0.1', port), heloName: 'roost.test' }, 4);
  try {
    const first = await pool.deliver(tx(1, ['a@x.test']));
    assert.deepEqual(first.map((o) => o.status), ['sent']);
    const second = await pool.deliver(tx(2, ['b@x.test', 'c@x.test', 'd@x.test']));
    assert.deepEqual(
      second.map((o) => [o.status, o.unacknowledged ?? false]),
      [['sent', false], ['deferred', true], ['deferred', true]],
    );
    // The lost connection is not cached: the next transaction opens a new one.
    const third = await pool.deliver(tx(3, ['c@x.test', 'd@x.test']));
    assert.deepEqual(third.map((o) => o.status), ['sent', 'sent']);
    assert.equal(log.connections, 2);
    assert.deepEqual(log.delivered, ['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test']);
  } finally {
    pool.close();
  }
});

test('a cached connection the server closed while idle is replaced without costing a delivery attempt', async () => {
  const { port, log, stop } = await scriptedLmtp();
  servers.push({ close: stop });
  const pool = new LmtpPool({ endpoint: tcpEndpoint('127.0.0.1', port), heloName: 'roost.test' }, 4);
  try {
    assert.deepEqual((await pool.deliver(tx(1, ['a@x.test']))).map((o) => o.status), ['sent']);
    assert.equal(pool.idleCount, 1);
    // The server side goes away; the cached connection learns it from its close event.
    stop();
    await new Promise((r) => setTimeout(r, 50));
    const restarted = await scriptedLmtp({ port });
    servers.push({ close: restarted.stop });
    const outcomes = await pool.deliver(tx(2, ['b@x.test']));
    assert.deepEqual(outcomes.map((o) => o.status), ['sent']);
    assert.deepEqual(restarted.log.delivered, ['b@x.test']);
    assert.equal(log.delivered.length, 1);
  } finally {
    pool.close();
  }
});

test('nothing listening: the delivery is refused before anything is sent', async () => {
  const { port } = await lmtpServer();
  for (const s of servers.splice(-1)) s.close();
  await new Promise((r) => setTimeout(r, 50));
  const pool = new LmtpPool({ endpoint: tcpEndpoint('127.0.0.1', port), heloName: 'roost.test' }, 4);
  await assert.rejects(pool.deliver(tx(1, ['a@x.test'])), LmtpUnavailable);
  pool.close();
});

test('the end of data waits for beforeEnd; when it fails, the connection goes before the end and nothing is delivered', async () => {
  const { port, log, stop } = await scriptedLmtp();
  servers.push({ close: stop });
  const pool = new LmtpPool({ endpoint: tcpEndpoint('127.0.0.1', port), heloName: 'roost.test' }, 4);
  try {
    let release!: () => void;
    const held = pool.deliver({ ...tx(1, ['a@x.test']), beforeEnd: new Promise<void>((resolve) => (release = resolve)) });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(log.delivered, [], 'no end of data before beforeEnd resolved');
    release();
    assert.deepEqual((await held).map((o) => o.status), ['sent']);

    const failed = await pool.deliver({ ...tx(2, ['b@x.test', 'c@x.test']), beforeEnd: Promise.reject(new Error('EIO')) });
    assert.deepEqual(failed.map((o) => [o.status, o.unacknowledged ?? false]), [['deferred', false], ['deferred', false]]);
    assert.deepEqual((await pool.deliver(tx(3, ['d@x.test']))).map((o) => o.status), ['sent']);
    assert.deepEqual(log.delivered, ['a@x.test', 'd@x.test']);
    assert.equal(log.connections, 2, 'the abandoned connection is not reused');
  } finally {
    pool.close();
  }
});
