// SMTP in, submission and SMTPS end to end with Python smtplib and swaks against the real daemon: local
// delivery through LMTP into the Maildir, relay policy (554 5.7.1), recipient validation (550 5.1.1),
// AUTH only after STARTTLS on submission, sender-login match, relaying to a local SMTP sink as relayhost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';

interface SinkMessage {
  from: string;
  to: string[];
  body: string;
}

/** A real SMTP server on 127.0.0.1 standing in for the relayhost. */
async function startSink(): Promise<{ port: number; messages: SinkMessage[]; waitFor(n: number): Promise<void>; close(): Promise<void> }> {
  const messages: SinkMessage[] = [];
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), body: Buffer.concat(chunks).toString() });
        for (const w of waiters.splice(0)) w();
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    async waitFor(n) {
      const deadline = Date.now() + 20_000;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`sink got ${messages.length} messages, expected ${n}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 1000).unref();
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function swaks(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('swaks', args, { timeout: 30_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

async function waitForFile(dir: string, count = 1): Promise<string[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const files = existsSync(dir) ? readdirSync(dir) : [];
    if (files.length >= count) return files;
    if (Date.now() > deadline) throw new Error(`no ${count} files in ${dir} (have ${files.length})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SEND = `
import smtplib, ssl, sys, json
mode, port, sender, rcpts = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
user, pw = (sys.argv[5], sys.argv[6]) if len(sys.argv) > 6 else (None, None)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
out = {}
try:
    c = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, local_hostname='client.example.org') if mode == 'smtps' else smtplib.SMTP('127.0.0.1', port, local_hostname='client.example.org')
    c.ehlo('client.example.org')
    out['ehlo'] = c.esmtp_features
    if mode == 'starttls':
        c.starttls(context=ctx); c.ehlo('client.example.org'); out['ehlo_tls'] = c.esmtp_features
    if user:
        c.login(user, pw)
    msg = 'From: <%s>\\r\\nTo: <%s>\\r\\nSubject: hello\\r\\n\\r\\nbody text\\r\\n' % (sender, rcpts[0])
    refused = c.sendmail(sender, rcpts, msg)
    out['refused'] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
    out['ok'] = True
    c.quit()
except smtplib.SMTPRecipientsRefused as e:
    out['refused'] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
except smtplib.SMTPSenderRefused as e:
    out['sender_refused'] = [e.smtp_code, e.smtp_error.decode()]
except smtplib.SMTPResponseException as e:
    out['error'] = [e.smtp_code, e.smtp_error.decode() if isinstance(e.smtp_error, bytes) else str(e.smtp_error)]
except smtplib.SMTPException as e:
    out['exception'] = str(e)
print(json.dumps(out))
`;

async function send(mode: 'plain' | 'starttls' | 'smtps', port: number, sender: string, rcpts: string[], auth?: [string, string]): Promise<Record<string, unknown>> {
  const out = await runPython(SEND, [mode, port, sender, JSON.stringify(rcpts), ...(auth ?? [])]);
  return JSON.parse(out) as Record<string, unknown>;
}

let roost: RoostHandle;
let outside: RoostHandle;
let sink: Awaited<ReturnType<typeof startSink>>;
const users = [
  { name: 'alice', password: 'alice-pw' },
  { name: 'bob', password: 'bob-pw' },
];

before(async () => {
  sink = await startSink();
  roost = await startRoost({ users, configToml: `[smtp]\nrelayhost = "[127.0.0.1]:${sink.port}"\nsmtp_tls_security_level = "none"\n` });
  // mynetworks = [] simulates a client outside the trusted networks.
  outside = await startRoost({ users, configToml: `[smtp]\nmynetworks = []\nrelayhost = "[127.0.0.1]:${sink.port}"\n` });
});

after(async () => {
  await roost?.stop();
  await outside?.stop();
  await sink?.close();
});

test('mail to a local user over SMTP lands in the Maildir through LMTP, with a Received header', async () => {
  const r = await send('plain', roost.ports.smtp, 'someone@example.org', ['alice@roost.test']);
  assert.equal(r.ok, true, JSON.stringify(r));
  const features = r.ehlo as Record<string, string>;
  for (const f of ['pipelining', 'size', '8bitmime', 'enhancedstatuscodes', 'smtputf8', 'dsn', 'starttls']) assert.ok(f in features, `EHLO lacks ${f}`);
  assert.equal(features.size, '10240000');
  assert.ok(!('chunking' in features), 'CHUNKING must not be offered without BDAT');
  const dir = join(roost.dataDir, 'mail', 'alice', 'Maildir', 'new');
  const [file] = await waitForFile(dir);
  const text = readFileSync(join(dir, file), 'utf8');
  assert.match(text, /Received: from client\.example\.org \(\[127\.0\.0\.1\]\)\r?\n\tby roost\.test \(Roost\) with ESMTP id [0-9A-Z]+/);
  assert.match(text, /body text/);
  await roost.waitForLog((l) => l.includes('to=<alice@roost.test>') && l.includes('status=sent'));
});

test('banner from myhostname, VRFY off, AUTH offered on port 25 only after STARTTLS', async () => {
  const out = await runPython(
    `
import smtplib, ssl, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='x.example.org')
banner = c.ehlo_resp
code, msg = c.docmd('VRFY', 'alice')
c.ehlo('x.example.org'); before = 'auth' in c.esmtp_features
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c.starttls(context=ctx); c.ehlo('x.example.org')
print(json.dumps({'vrfy': [code, msg.decode()], 'auth_before': before, 'auth_after': c.esmtp_features.get('auth', '')}))
c.quit()
`,
    [roost.ports.smtp],
  );
  const r = JSON.parse(out) as { vrfy: [number, string]; auth_before: boolean; auth_after: string };
  assert.ok(r.vrfy[0] === 502 || r.vrfy[0] === 500, r.vrfy[1]);
  assert.equal(r.auth_before, false);
  assert.match(r.auth_after, /PLAIN/);
  const sw = await swaks(['--server', '127.0.0.1', '--port', String(roost.ports.smtp), '--quit-after', 'CONNECT']);
  assert.match(sw.out, /220 roost\.test ESMTP Roost/);
});

test('a foreign domain from outside mynetworks without AUTH gets 554 5.7.1 Relay access denied; unknown user 550 5.1.1', async () => {
  const r = await send('plain', outside.ports.smtp, 'someone@example.org', ['friend@elsewhere.example']);
  const refused = r.refused as Record<string, [number, string]>;
  assert.equal(refused['friend@elsewhere.example'][0], 554);
  assert.match(refused['friend@elsewhere.example'][1], /^5\.7\.1 <friend@elsewhere\.example>: Relay access denied/);
  const u = await send('plain', outside.ports.smtp, 'someone@example.org', ['nobody@roost.test']);
  const uref = u.refused as Record<string, [number, string]>;
  assert.equal(uref['nobody@roost.test'][0], 550);
  assert.match(uref['nobody@roost.test'][1], /^5\.1\.1 /);
  // Local mail from outside is still accepted.
  const ok = await send('plain', outside.ports.smtp, 'someone@example.org', ['bob@roost.test']);
  assert.equal(ok.ok, true, JSON.stringify(ok));
  await waitForFile(join(outside.dataDir, 'mail', 'bob', 'Maildir', 'new'));
  assert.equal(sink.messages.length, 0, 'nothing was relayed');
});

test('submission: AUTH before STARTTLS is refused, mail without AUTH is refused', async () => {
  const sw = await swaks(['--server', '127.0.0.1', '--port', String(roost.ports.submission), '--from', 'alice@roost.test', '--to', 'friend@elsewhere.example', '--auth', 'PLAIN', '--auth-user', 'alice', '--auth-password', 'alice-pw']);
  assert.notEqual(sw.code, 0);
  assert.doesNotMatch(sw.out, /250-AUTH/);
  assert.match(sw.out, /Host did not advertise authentication/);
  const raw = await runPython(
    `
import smtplib, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='x.example.org'); c.ehlo('x.example.org')
a = c.docmd('AUTH', 'PLAIN AGFsaWNlAGFsaWNlLXB3')
m = c.docmd('MAIL', 'FROM:<alice@roost.test>')
print(json.dumps([a[0], m[0], m[1].decode()]))
`,
    [roost.ports.submission],
  );
  const [authCode, mailCode, mailText] = JSON.parse(raw) as [number, number, string];
  assert.ok(authCode >= 500, `AUTH before STARTTLS answered ${authCode}`);
  assert.equal(mailCode, 530);
  assert.match(mailText, /^5\.7\.0 Authentication required/);
});

test('submission after STARTTLS and AUTH relays to the relayhost; sending as someone else is refused', async () => {
  const r = await send('starttls', outside.ports.submission, 'alice@roost.test', ['friend@elsewhere.example'], ['alice', 'alice-pw']);
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.match(String((r.ehlo_tls as Record<string, string>).auth), /PLAIN/);
  await sink.waitFor(1);
  const m = sink.messages[0];
  assert.equal(m.from, 'alice@roost.test');
  assert.deepEqual(m.to, ['friend@elsewhere.example']);
  assert.match(m.body, /with ESMTPSA id /);
  await outside.waitForLog((l) => l.includes('to=<friend@elsewhere.example>') && l.includes('status=sent') && l.includes(`relay=127.0.0.1[127.0.0.1]:${sink.port}`));

  const spoof = await send('starttls', outside.ports.submission, 'bob@roost.test', ['friend@elsewhere.example'], ['alice', 'alice-pw']);
  const refused = spoof.sender_refused as [number, string];
  assert.equal(refused[0], 553);
  assert.match(refused[1], /5\.7\.1 <bob@roost\.test>: Sender address rejected: not owned by user alice/);

  const bad = await send('starttls', outside.ports.submission, 'alice@roost.test', ['friend@elsewhere.example'], ['alice', 'wrong']);
  assert.equal((bad.error as [number, string])[0], 535);
});

test('SMTPS (implicit TLS) with AUTH relays too', async () => {
  const before = sink.messages.length;
  const r = await send('smtps', outside.ports.smtps, 'bob@roost.test', ['other@elsewhere.example'], ['bob', 'bob-pw']);
  assert.equal(r.ok, true, JSON.stringify(r));
  await sink.waitFor(before + 1);
  assert.match(sink.messages.at(-1)!.body, /with ESMTPSA id /);
});
