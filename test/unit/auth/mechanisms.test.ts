// SASL mechanisms through the AuthService: SCRAM-SHA-256 with RFC 7677's own example exchange,
// CRAM-MD5 from plaintext and stored contexts, PLAIN/LOGIN message handling, plaintext policy.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../../src/config/schema.js';
import { AuthService, type ClientInfo, type SaslStep } from '../../../src/auth/service.js';
import { hashPassword } from '../../../src/auth/schemes/index.js';

const LOCAL: ClientInfo = { service: 'imap', remoteIp: '127.0.0.1', secured: true };
const REMOTE_PLAIN: ClientInfo = { service: 'imap', remoteIp: '192.0.2.7', secured: false };

let dir: string;
let auth: AuthService;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-mech-'));
  const lines = [
    'user:{PLAIN}pencil',
    `scramuser:${await hashPassword('SCRAM-SHA-256', 'pencil')}`,
    `cramuser:${await hashPassword('CRAM-MD5', 'tanstaaftanstaaf')}`,
    `bcryptuser:${await hashPassword('BLF-CRYPT', 'secret', { blfCryptCost: 4 })}`,
  ];
  await writeFile(join(dir, 'passwd'), lines.join('\n') + '\n');
  const config = defaultConfig();
  config.auth.auth_mechanisms = ['plain', 'login', 'cram-md5', 'scram-sha-256'];
  config.auth.auth_failure_delay = 0;
  config.auth.auth_penalty_init = 0;
  auth = await AuthService.create(config, dir);
});

after(async () => {
  await auth.close();
  await rm(dir, { recursive: true, force: true });
});

function challenge(step: SaslStep): Buffer {
  assert.equal(step.kind, 'challenge', `expected a challenge, got ${JSON.stringify(step)}`);
  return (step as { data: Buffer }).data;
}

describe('SCRAM-SHA-256', () => {
  test("RFC 7677 section 3's example exchange, byte for byte", async () => {
    const ex = auth.begin('SCRAM-SHA-256', LOCAL, {
      scram: { nonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), iterations: 4096 },
    });
    const serverFirst = challenge(await ex.step(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO')));
    assert.equal(serverFirst.toString(), 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const final = await ex.step(
      Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='),
    );
    assert.equal(final.kind, 'success');
    assert.equal((final as Extract<SaslStep, { kind: 'success' }>).user.user, 'user');
    assert.equal(final.kind === 'success' && final.data?.toString(), 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  test('a wrong proof fails', async () => {
    const ex = auth.begin('SCRAM-SHA-256', LOCAL, { scram: { nonce: 'x', salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), iterations: 4096 } });
    challenge(await ex.step(Buffer.from('n,,n=user,r=abc')));
    const final = await ex.step(Buffer.from(`c=biws,r=abcx,p=${Buffer.alloc(32, 1).toString('base64')}`));
    assert.equal(final.kind, 'failure');
  });

  test("works from Dovecot's stored {SCRAM-SHA-256} keys, computing the client side here", async () => {
    const ex = auth.begin('SCRAM-SHA-256', LOCAL);
    const clientFirstBare = 'n=scramuser,r=clientnonce123';
    const serverFirst = challenge(await ex.step(Buffer.from(`n,,${clientFirstBare}`))).toString();
    const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
    const { pbkdf2Sync, createHash } = await import('node:crypto');
    const salted = pbkdf2Sync('pencil', Buffer.from(attrs.s, 'base64'), Number(attrs.i), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${attrs.r}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    const final = await ex.step(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`));
    assert.equal(final.kind, 'success');
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    const expectedV = createHmac('sha256', serverKey).update(authMessage).digest('base64');
    assert.equal(final.kind === 'success' && final.data?.toString(), `v=${expectedV}`);
  });

  test('channel binding requests and malformed messages fail', async () => {
    for (const msg of ['p=tls-unique,,n=user,r=abc', 'garbage', 'n,,r=abc', 'n,,n=us=er,r=abc']) {
      const step = await auth.begin('SCRAM-SHA-256', LOCAL).step(Buffer.from(msg));
      assert.equal(step.kind, 'failure', msg);
    }
  });
});

describe('CRAM-MD5', () => {
  async function cram(user: string, password: string): Promise<SaslStep> {
    const ex = auth.begin('CRAM-MD5', LOCAL);
    const ch = challenge(await ex.step(undefined));
    assert.match(ch.toString(), /^<\d+\.\d+@[^>]+>$/);
    const digest = createHmac('md5', password).update(ch).digest('hex');
    return ex.step(Buffer.from(`${user} ${digest}`));
  }
  test('from a plaintext passdb entry', async () => {
    assert.equal((await cram('user', 'pencil')).kind, 'success');
    assert.equal((await cram('user', 'pencil2')).kind, 'failure');
  });
  test("from Dovecot's CRAM-MD5 context", async () => {
    assert.equal((await cram('cramuser', 'tanstaaftanstaaf')).kind, 'success');
    assert.equal((await cram('cramuser', 'tanstaaf')).kind, 'failure');
  });
  test('fails when only a one-way hash is stored, and for unknown users', async () => {
    assert.equal((await cram('bcryptuser', 'secret')).kind, 'failure');
    assert.equal((await cram('nobody', 'x')).kind, 'failure');
  });
});

describe('PLAIN and LOGIN', () => {
  test('PLAIN with and without an initial response', async () => {
    assert.equal((await auth.begin('PLAIN', LOCAL).step(Buffer.from('\0user\0pencil'))).kind, 'success');
    const ex = auth.begin('plain', LOCAL);
    assert.equal(challenge(await ex.step(undefined)).length, 0);
    assert.equal((await ex.step(Buffer.from('\0bcryptuser\0secret'))).kind, 'success');
  });
  test('PLAIN rejects malformed messages and wrong passwords alike', async () => {
    for (const msg of ['user\0pencil', '\0\0pencil', '\0user\0pencil\0x', '\0user\0wrong']) {
      assert.equal((await auth.begin('PLAIN', LOCAL).step(Buffer.from(msg))).kind, 'failure', JSON.stringify(msg));
    }
    assert.equal((await auth.begin('PLAIN', LOCAL).step(Buffer.from([0, 0x75, 0, 0xff, 0xfe]))).kind, 'failure');
  });
  test('LOGIN asks Username: then Password:', async () => {
    const ex = auth.begin('LOGIN', LOCAL);
    assert.equal(challenge(await ex.step(undefined)).toString(), 'Username:');
    assert.equal(challenge(await ex.step(Buffer.from('user'))).toString(), 'Password:');
    assert.equal((await ex.step(Buffer.from('pencil'))).kind, 'success');
    const again = await ex.step(Buffer.from('pencil'));
    assert.equal(again.kind, 'failure', 'a finished exchange takes no more steps');
  });
  test('LOGIN takes the user name as initial response', async () => {
    const ex = auth.begin('LOGIN', LOCAL);
    assert.equal(challenge(await ex.step(Buffer.from('user'))).toString(), 'Password:');
    assert.equal((await ex.step(Buffer.from('pencil'))).kind, 'success');
  });
});

describe('mechanism policy', () => {
  test('plaintext mechanisms are offered and accepted only on secured connections', async () => {
    assert.deepEqual(auth.mechanisms({ secured: true }), ['PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-256']);
    assert.deepEqual(auth.mechanisms({ secured: false }), ['CRAM-MD5', 'SCRAM-SHA-256']);
    assert.equal((await auth.begin('PLAIN', REMOTE_PLAIN).step(Buffer.from('\0user\0pencil'))).kind, 'failure');
    assert.equal((await auth.verifyPlain('user', 'pencil', REMOTE_PLAIN)).kind, 'failure');
    assert.equal((await auth.verifyPlain('user', 'pencil', LOCAL)).kind, 'success');
  });
  test('unknown and unconfigured mechanisms fail on the first step', async () => {
    assert.equal((await auth.begin('DIGEST-MD5', LOCAL).step(undefined)).kind, 'failure');
    assert.equal((await auth.begin('XOAUTH2', LOCAL).step(undefined)).kind, 'failure');
  });
  test('a cancelled exchange answers failure', async () => {
    const ex = auth.begin('LOGIN', LOCAL);
    challenge(await ex.step(undefined));
    ex.cancel();
    assert.equal((await ex.step(Buffer.from('user'))).kind, 'failure');
  });
  test('isSecured: TLS, loopback, trusted networks', () => {
    assert.equal(auth.isSecured('127.0.0.1', false), true);
    assert.equal(auth.isSecured('::1', false), true);
    assert.equal(auth.isSecured('::ffff:127.0.0.5', false), true);
    assert.equal(auth.isSecured('192.0.2.1', false), false);
    assert.equal(auth.isSecured('192.0.2.1', true), true);
  });
});
