// Malformed SMTP against the real daemon (RFC 5321 sections 2.3.8 and 4.5.3): bare LF, a 1 MB line, binary
// junk, pipelining abuse and 10,000 RCPTs get clear answers; the daemon never crashes nor leaves a corrupt queue file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';

let roost: RoostHandle;
before(async () => {
  roost = await startRoost({ users: [{ name: 'alice', password: 'a' }] });
});
after(async () => {
  await roost?.stop();
});

/** Sends raw bytes and collects everything the server says until it closes or goes quiet for `quietMs`. */
function raw(port: number, chunks: (string | Buffer)[], quietMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let out = '';
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), quietMs);
    };
    socket.on('data', (d) => {
      out += d.toString('latin1');
      arm();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    socket.on('error', () => undefined);
    socket.once('data', () => {
      for (const c of chunks) socket.write(c);
      arm();
    });
  });
}

async function stillServes(): Promise<void> {
  const out = await raw(roost.ports.smtp, ['EHLO ok.example.org\r\nQUIT\r\n']);
  assert.match(out, /^220 /);
  assert.match(out, /221 /);
  assert.equal(roost.child.exitCode, null, 'the daemon is still running');
}

test('bare LF: commands are answered, and a bare-LF dot inside DATA does not end the message (no smuggling)', async () => {
  const out = await raw(roost.ports.smtp, [
    'EHLO lf.example.org\nMAIL FROM:<x@example.org>\nRCPT TO:<alice@roost.test>\nDATA\n',
    'Subject: bare lf\n\nline\n.\nMAIL FROM:<smuggled@example.org>\nRCPT TO:<alice@roost.test>\n\r\n.\r\nQUIT\r\n',
  ]);
  assert.equal((out.match(/250 2\.0\.0 Ok: queued as [0-9A-Z]+/g) ?? []).length, 1, out);
  assert.equal((out.match(/^250 2\.1\.0/gm) ?? []).length, 1, 'the smuggled MAIL FROM was message text, not a command');
  await roost.waitForLog((l) => l.includes('to=<alice@roost.test>') && l.includes('status=sent'));
  await stillServes();
});

test('a 1 MB command line is refused with a clear answer', async () => {
  const out = await raw(roost.ports.smtp, [`EHLO big.example.org\r\nMAIL FROM:<${'a'.repeat(1024 * 1024)}@example.org>\r\n`]);
  assert.match(out, /\n(5\d\d|421) \d\.\d\.\d /, `got: ${out.slice(0, 300)}`);
  await stillServes();
});

test('binary junk gets 5xx answers, and the connection is closed after too many', async () => {
  const junk = Buffer.alloc(4096);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 256;
  const out = await raw(roost.ports.smtp, [junk, '\r\n']);
  assert.match(out, /^220 /);
  assert.match(out, /\n(500|421)[ -]/);
  await stillServes();
});

test('pipelining abuse: many transactions in one write all get answers in order', async () => {
  const lines = ['EHLO pipe.example.org\r\n'];
  for (let i = 0; i < 50; i++) lines.push('MAIL FROM:<x@example.org>\r\nRCPT TO:<alice@roost.test>\r\nRSET\r\n');
  lines.push('QUIT\r\n');
  const out = await raw(roost.ports.smtp, [lines.join('')]);
  assert.equal((out.match(/^250 2\.1\.0/gm) ?? []).length, 50);
  assert.equal((out.match(/^250 2\.1\.5/gm) ?? []).length, 50);
  assert.match(out, /221 /);
});

test('10,000 RCPTs: 452 4.5.3 past smtpd_recipient_limit, and the accepted ones are queued once', async () => {
  const out = await runPython(
    `
import smtplib, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='many.example.org'); c.ehlo()
c.mail('x@example.org')
codes = {}
last = ''
for i in range(10000):
    code, msg = c.rcpt('alice+%d@roost.test' % i)
    codes[code] = codes.get(code, 0) + 1
    last = msg.decode()
code, msg = c.data(b'Subject: many\\r\\n\\r\\nx\\r\\n')
print(json.dumps({'codes': codes, 'last': last, 'data': [code, msg.decode()]}))
c.quit()
`,
    [roost.ports.smtp],
    80_000,
  );
  const r = JSON.parse(out) as { codes: Record<string, number>; last: string; data: [number, string] };
  assert.equal(r.codes['250'], 1000);
  assert.equal(r.codes['452'], 9000);
  assert.match(r.last, /^4\.5\.3 /);
  assert.equal(r.data[0], 250);
  await roost.waitForLog((l) => l.includes('nrcpt=1 '));
  await stillServes();
  assert.equal(readdirSync(join(roost.dataDir, 'queue', 'corrupt')).length, 0);
});
