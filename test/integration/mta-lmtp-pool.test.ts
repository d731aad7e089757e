// Local delivery speed features of the queue manager: cached LMTP sessions reused with RSET (RFC 2033, RFC 5321
// 4.1.1.5) and several queued messages delivered at once, each exactly once to Roost's LMTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRoost } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';

const users = [
  { name: 'alice', password: 'a' },
  { name: 'bob', password: 'b' },
];

function mailbox(dataDir: string, user: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = join(dataDir, 'mail', user, 'Maildir', sub);
    if (existsSync(dir)) for (const f of readdirSync(dir)) out.push(readFileSync(join(dir, f), 'utf8'));
  }
  return out;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('queued mail goes over a few cached LMTP sessions, several at once, each message exactly once', async () => {
  const roost = await startRoost({ users });
  try {
    const count = 60;
    // Two SMTP clients at once, 30 messages each, so the queue holds several messages at a time.
    const send = (from: number) =>
      runPython(
        `
import smtplib, sys
port, start, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
c = smtplib.SMTP('127.0.0.1', port, local_hostname='c.example.org')
for i in range(start, start + n):
    to = ['alice@roost.test', 'bob@roost.test'][i % 2]
    c.sendmail('sender@example.org', [to], ('Subject: pooled %d\\r\\n\\r\\nbody %d\\r\\n' % (i, i)).encode())
c.quit()
`,
        [roost.ports.smtp, from, count / 2],
      );
    await Promise.all([send(0), send(count / 2)]);
    const subjects = () => [...mailbox(roost.dataDir, 'alice'), ...mailbox(roost.dataDir, 'bob')].map((m) => /Subject: pooled (\d+)/.exec(m)?.[1]);
    await waitFor(`${count} messages in the Maildirs`, () => subjects().length >= count);
    await waitFor('the queue to drain', () => ['incoming', 'active', 'deferred'].every((s) => readdirSync(join(roost.dataDir, 'queue', s)).filter((f) => !f.startsWith('.')).length === 0));
    const got = subjects();
    assert.equal(got.length, count, 'no message delivered twice');
    assert.equal(new Set(got).size, count, 'every message delivered');

    // Roost's LMTP logs each save with its LMTP session: far fewer sessions than messages means reuse.
    const sessions = roost.output.filter((l) => l.includes('"component":"lmtp"') && l.includes('"msg":"saved"')).map((l) => (JSON.parse(l) as { session: string }).session);
    assert.equal(sessions.length, count);
    const distinct = new Set(sessions).size;
    assert.ok(distinct <= 20, `at most default_destination_concurrency_limit sessions, got ${distinct} for ${count} messages`);
    assert.ok(distinct < count / 2, `sessions are reused, got ${distinct} for ${count} messages`);
    // Reuse goes through RSET: the LMTP side answered transactions after the first on the same session.
    const perSession = new Map<string, number>();
    for (const s of sessions) perSession.set(s, (perSession.get(s) ?? 0) + 1);
    assert.ok([...perSession.values()].some((n) => n > 1));
  } finally {
    await roost.stop();
  }
});
