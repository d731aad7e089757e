// Real Postfix delivering into Roost through LMTP (RFC 2033), over TCP (lmtp:inet) and the unix
// socket (lmtp:unix), as a site would configure mailbox_transport.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { makeTraversable, requirePeer, startPostfix, waitFor, type PostfixHandle } from './peers.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function sendThroughPostfix(port: number, to: string, subject: string): Promise<void> {
  await runPython(
    `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
s.sendmail('sender@example.net', [sys.argv[2]], ('From: sender@example.net\\r\\nTo: %s\\r\\nSubject: %s\\r\\n\\r\\nvia postfix\\r\\n' % (sys.argv[2], sys.argv[3])).encode())
s.quit()
`,
    [port, to, subject],
  );
}

function newMessages(h: RoostHandle, user: string): string[] {
  const dir = join(h.dataDir, 'mail', user, 'Maildir', 'new');
  return existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')) : [];
}

for (const transport of ['inet', 'unix'] as const) {
  test(`Postfix delivers to Roost with mailbox_transport = lmtp:${transport}`, async (t) => {
    if (!requirePeer(t, 'postfix')) return;
    const base = mkdtempSync(join(tmpdir(), 'roost-postfix-lmtp-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    const h = await startRoost({ dataDir: join(base, 'roost'), users: [{ name: 'alice', password: 'pw' }] });
    cleanups.push(() => h.stop().then(() => undefined));
    makeTraversable(join(base, 'roost', 'run'));
    const target = transport === 'inet' ? `lmtp:inet:127.0.0.1:${h.ports.lmtp}` : `lmtp:unix:${h.paths['lmtp-unix']}`;
    const postfix: PostfixHandle = await startPostfix({ dir: join(base, 'postfix'), mailboxTransport: target });
    cleanups.push(() => postfix.stop());
    await sendThroughPostfix(postfix.smtpPort, 'alice@localhost', `over ${transport}`);
    const delivered = await waitFor(
      'the message in Roost',
      () => {
        const msgs = newMessages(h, 'alice');
        return msgs.length ? msgs : undefined;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n--- postfix maillog ---\n${postfix.maillog()}`);
    });
    assert.equal(delivered.length, 1);
    assert.match(delivered[0], new RegExp(`Subject: over ${transport}`));
    assert.match(delivered[0], /^Return-Path: <sender@example\.net>/);
    assert.match(delivered[0], /Delivered-To: alice@localhost/);
    await waitFor('status=sent in the maillog', () => (/status=sent/.test(postfix.maillog()) ? true : undefined), 30_000);
    assert.match(postfix.maillog(), /relay=\S*(127\.0\.0\.1|lmtp)/);
  });
}
