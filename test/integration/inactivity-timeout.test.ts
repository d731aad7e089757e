// Autologout (RFC 9051 section 5.4; RFC 1939 section 3): a connection that sends nothing for preauth_timeout (before
// login) or imap_client_timeout (after) gets BYE / -ERR and is closed; every command read starts the wait over.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { LineClient } from '../helpers/line-client.js';

const PREAUTH_MS = 700;
const AFTER_LOGIN_MS = 1000;

let h: RoostHandle;
before(async () => {
  h = await startRoost({
    users: [{ name: 'idler', password: 'pw' }],
    configToml: `[server]\npreauth_timeout = "${PREAUTH_MS}ms"\n[imap]\nimap_client_timeout = "${AFTER_LOGIN_MS}ms"\n`,
  });
});
after(async () => {
  await h?.stop();
});

/** Sends `command` every `everyMs` for `forMs`, reading each answer up to the line `done` matches. */
async function keepBusy(c: LineClient, command: (i: number) => string, done: (i: number, line: string) => boolean, everyMs: number, forMs: number): Promise<void> {
  const until = Date.now() + forMs;
  for (let i = 0; Date.now() < until; i++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    c.sendLine(command(i));
    await c.readUntil((l) => done(i, l));
  }
}

test('IMAP: silence before login ends in BYE after preauth_timeout', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  try {
    const started = Date.now();
    assert.match((await c.readLine())!, /^\* OK/);
    assert.equal(await c.readLine(), '* BYE Disconnected for inactivity.');
    await c.waitClosed();
    assert.ok(Date.now() - started >= PREAUTH_MS - 50, `closed after ${Date.now() - started} ms`);
  } finally {
    c.close();
  }
});

test('IMAP: commands keep a logged-in connection open past the timeout; silence then ends it', async () => {
  const c = await LineClient.connect({ port: h.ports.imap });
  try {
    assert.match((await c.readLine())!, /^\* OK/);
    c.sendLine('a LOGIN idler pw');
    assert.match((await c.readUntil((l) => l.startsWith('a ')))!.at(-1)!, /^a OK/);
    // Three timeouts' worth of NOOPs, each well inside the timeout: the connection stays.
    await keepBusy(c, (i) => `n${i} NOOP`, (i, l) => l.startsWith(`n${i} `), AFTER_LOGIN_MS / 3, AFTER_LOGIN_MS * 3);
    const quiet = Date.now();
    assert.equal(await c.readLine(), '* BYE Disconnected for inactivity.');
    await c.waitClosed();
    assert.ok(Date.now() - quiet >= AFTER_LOGIN_MS - 50, `closed ${Date.now() - quiet} ms after the last command`);
  } finally {
    c.close();
  }
});

test('POP3: commands keep a connection open past the timeout; silence then ends it with -ERR', async () => {
  const c = await LineClient.connect({ port: h.ports.pop3 });
  try {
    assert.match((await c.readLine())!, /^\+OK/);
    await keepBusy(c, () => 'NOOP', (_, l) => /^[+-]/.test(l), PREAUTH_MS / 3, PREAUTH_MS * 3);
    assert.equal(await c.readLine(), '-ERR Disconnected for inactivity.');
    await c.waitClosed();
  } finally {
    c.close();
  }
});
