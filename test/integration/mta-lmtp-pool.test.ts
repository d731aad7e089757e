// Local delivery by the queue manager: cached LMTP connections (RFC 2033) each carrying one transaction after
// another, several queued messages delivered at once, each exactly once to Roost's LMTP; a connection lost in the
// middle of a delivery leaves only the recipients without a reply to be tried again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { scriptedLmtp } from '../helpers/scripted-lmtp.js';
import { waitFor } from '../helpers/wait-for.js';
import { sendControl } from '../../src/mta/control.js';
import { readQueueFile } from '../../src/mta/queue-file.js';

/** Ceiling for the waits below: a burst through the queue and the LMTP pool on a loaded machine. */
const POOL_WAIT_MS = 60_000;

const users = [
  { name: 'alice', password: 'a' },
  { name: 'bob', password: 'b' },
  { name: 'carol', password: 'c' },
];

function mailbox(dataDir: string, user: string): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const dir = join(dataDir, 'mail', user, 'Maildir', sub);
    if (existsSync(dir)) for (const f of readdirSync(dir)) out.push(readFileSync(join(dir, f), 'utf8'));
  }
  return out;
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
    await waitFor(`${count} messages in the Maildirs`, () => subjects().length >= count, POOL_WAIT_MS);
    await waitFor('the queue to drain', () => ['incoming', 'active', 'deferred'].every((s) => readdirSync(join(roost.dataDir, 'queue', s)).filter((f) => !f.startsWith('.')).length === 0), POOL_WAIT_MS);
    const got = subjects();
    assert.equal(got.length, count, 'no message delivered twice');
    assert.equal(new Set(got).size, count, 'every message delivered');

    // Roost's LMTP logs each save with its LMTP session: far fewer sessions than messages means reuse.
    const sessions = roost.output.filter((l) => l.includes('"component":"lmtp"') && l.includes('"msg":"saved"')).map((l) => (JSON.parse(l) as { session: string }).session);
    assert.equal(sessions.length, count);
    const distinct = new Set(sessions).size;
    assert.ok(distinct <= 20, `at most default_destination_concurrency_limit sessions, got ${distinct} for ${count} messages`);
    assert.ok(distinct < count / 2, `sessions are reused, got ${distinct} for ${count} messages`);
    // The LMTP side answered transactions after the first on the same connection.
    const perSession = new Map<string, number>();
    for (const s of sessions) perSession.set(s, (perSession.get(s) ?? 0) + 1);
    assert.ok([...perSession.values()].some((n) => n > 1));
  } finally {
    await roost.stop();
  }
});

test('an LMTP connection lost after the end of data: recipients answered stay delivered, only the others are tried again', async () => {
  // The first transaction gets one reply (alice) and then the connection goes.
  const lmtp = await scriptedLmtp({ dropAt: 1, repliesBeforeDrop: 1 });
  let started: RoostHandle | undefined;
  try {
    const roost = (started = await startRoost({ users, configToml: `[smtp]\nlmtp_target = "lmtp:inet:127.0.0.1:${lmtp.port}"\n` }));
    await runPython(
      `
import smtplib, sys
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='c.example.org')
c.sendmail('sender@example.org', ['alice@roost.test', 'bob@roost.test', 'carol@roost.test'], b'Subject: dropped\\r\\n\\r\\nbody\\r\\n')
c.quit()
`,
      [roost.ports.smtp],
    );
    await roost.waitForLog((l) => l.includes('to=<carol@roost.test>') && l.includes('status=deferred'));
    const queued = await waitFor('the message in deferred', () => {
      const files = readdirSync(join(roost.dataDir, 'queue', 'deferred'));
      return files.length === 1 && files;
    }, POOL_WAIT_MS);
    assert.deepEqual(lmtp.log.delivered, ['alice@roost.test']);
    const state = readQueueFile(join(roost.dataDir, 'queue', 'deferred', queued[0]!));
    assert.deepEqual([...state.finished], [0], 'alice is done in the queue file');

    assert.equal(await sendControl(join(roost.dataDir, 'run', 'qmgr'), 'flush'), 'ok');
    await waitFor('the queue to drain', () => readdirSync(join(roost.dataDir, 'queue', 'deferred')).length === 0 && readdirSync(join(roost.dataDir, 'queue', 'active')).length === 0, POOL_WAIT_MS);
    assert.deepEqual(lmtp.log.delivered, ['alice@roost.test', 'bob@roost.test', 'carol@roost.test'], 'alice once, bob and carol on the retry');
    assert.equal(lmtp.log.connections, 2);
  } finally {
    await started?.stop();
    lmtp.stop();
  }
});
