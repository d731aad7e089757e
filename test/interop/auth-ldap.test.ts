// The LDAP passdb/userdb against a real OpenLDAP slapd: bind-as-user and password-attribute modes,
// escaped filters, userdb fields, the auth socket on LDAP, and slapd stopped mid-test (temporary failures, then recovery).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePeer, startSlapd, type SlapdHandle } from './peers.js';
import { defaultConfig, type Config } from '../../src/config/schema.js';
import { AuthService, AuthTemporaryError, type ClientInfo, type SaslStep } from '../../src/auth/service.js';
import { serveAuthClient } from '../../src/protocols/auth-socket/index.js';

const INFO: ClientInfo = { service: 'imap', remoteIp: '127.0.0.1', secured: true };
const USERS = [
  { uid: 'alice', password: 'alice-pw', homeDirectory: '/srv/mail/alice' },
  { uid: 'bob', password: 'bob-pw' },
];

let dir: string;
let slapd: SlapdHandle | undefined;
const services: AuthService[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-auth-ldap-'));
});

after(async () => {
  for (const s of services) await s.close();
  await slapd?.stop();
  await rm(dir, { recursive: true, force: true });
});

function ldapConfig(s: SlapdHandle, authBind: boolean): Config {
  const c = defaultConfig();
  c.auth.passdb_driver = 'ldap';
  c.auth.userdb_driver = 'ldap';
  c.auth.ldap_uris = [s.url];
  c.auth.ldap_base = s.suffix;
  c.auth.ldap_dn = s.rootDn;
  c.auth.ldap_dnpass = s.rootPassword;
  c.auth.ldap_auth_bind = authBind;
  c.auth.ldap_timeout = 3_000;
  c.auth.auth_failure_delay = 0;
  c.auth.auth_penalty_init = 0;
  return c;
}

async function service(c: Config): Promise<AuthService> {
  const s = await AuthService.create(c, dir);
  services.push(s);
  return s;
}

function kind(step: SaslStep): string {
  return step.kind === 'failure' ? (step.temporary ? 'tempfail' : 'failure') : step.kind;
}

async function startDirectory(t: import('node:test').TestContext): Promise<SlapdHandle | undefined> {
  if (!requirePeer(t, 'slapd')) return undefined;
  slapd ??= await startSlapd({ dir: join(dir, 'slapd'), users: USERS });
  return slapd;
}

test('bind-as-user and password-attribute modes check passwords; filters are escaped', { timeout: 60_000 }, async (t) => {
  const s = await startDirectory(t);
  if (!s) return;
  for (const authBind of [true, false]) {
    const auth = await service(ldapConfig(s, authBind));
    assert.equal(kind(await auth.verifyPlain('alice', 'alice-pw', INFO)), 'success', `auth_bind=${authBind}`);
    assert.equal(kind(await auth.verifyPlain('Bob', 'bob-pw', INFO)), 'success');
    assert.equal(kind(await auth.verifyPlain('alice', 'wrong', INFO)), 'failure');
    assert.equal(kind(await auth.verifyPlain('alice', '', INFO)), 'failure', 'an empty password is not an anonymous bind');
    assert.equal(kind(await auth.verifyPlain('nobody', 'x', INFO)), 'failure');
    for (const evil of ['*', 'a*', 'alice)(uid=*', '*)(|(uid=*']) {
      assert.equal(kind(await auth.verifyPlain(evil, 'alice-pw', INFO)), 'failure', evil);
    }
  }
});

test('the userdb answers home from LDAP; recipients resolve through it', { timeout: 60_000 }, async (t) => {
  const s = await startDirectory(t);
  if (!s) return;
  const auth = await service(ldapConfig(s, true));
  assert.deepEqual(await auth.lookupUser('alice'), { user: 'alice', home: '/srv/mail/alice', extra: {} });
  assert.equal(await auth.lookupUser('nobody'), null);
  assert.equal((await auth.resolveRecipient('alice+news@localhost'))?.home, '/srv/mail/alice');
});

test('the same users log in through the auth socket from LDAP and from a passwd-file', { timeout: 60_000 }, async (t) => {
  const s = await startDirectory(t);
  if (!s) return;
  await writeFile(join(dir, 'passwd'), 'alice:{PLAIN}alice-pw\nbob:{PLAIN}bob-pw\n');
  const fileConfig = defaultConfig();
  fileConfig.auth.auth_failure_delay = 0;
  for (const auth of [await service(ldapConfig(s, true)), await service(fileConfig)]) {
    const server: Server = createServer((sock) => serveAuthClient(sock, auth));
    const path = join(dir, `auth-${services.length}`);
    server.listen(path);
    await once(server, 'listening');
    try {
      const sock = createConnection(path);
      sock.setEncoding('utf8');
      let text = '';
      sock.on('data', (d: string) => (text += d));
      sock.write('VERSION\t1\t0\nCPID\t1\n');
      for (const [id, user, pw] of [
        ['1', 'alice', 'alice-pw'],
        ['2', 'bob', 'bob-pw'],
      ]) {
        sock.write(`AUTH\t${id}\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=${Buffer.from(`\0${user}\0${pw}`).toString('base64')}\n`);
      }
      const deadline = Date.now() + 15_000;
      while (!(text.includes('OK\t1\t') && text.includes('OK\t2\t')) && !text.includes('FAIL') && Date.now() < deadline) await once(sock, 'data');
      assert.match(text, /^OK\t1\tuser=alice$/m, text);
      assert.match(text, /^OK\t2\tuser=bob$/m, text);
      sock.destroy();
    } finally {
      server.close();
    }
  }
});

test('slapd stopped mid-test gives temporary failures, then recovery when it is back', { timeout: 90_000 }, async (t) => {
  const s = await startDirectory(t);
  if (!s) return;
  for (const authBind of [true, false]) {
    const auth = await service(ldapConfig(s, authBind));
    assert.equal(kind(await auth.verifyPlain('alice', 'alice-pw', INFO)), 'success');
    await s.stop();
    assert.equal(kind(await auth.verifyPlain('alice', 'alice-pw', INFO)), 'tempfail', `auth_bind=${authBind}: LDAP down is not "wrong password"`);
    assert.equal(kind(await auth.verifyPlain('alice', 'wrong', INFO)), 'tempfail');
    await assert.rejects(auth.lookupUser('alice'), AuthTemporaryError);
    await s.restart();
    assert.equal(kind(await auth.verifyPlain('alice', 'alice-pw', INFO)), 'success', 'recovered after slapd restart');
    assert.equal(kind(await auth.verifyPlain('alice', 'wrong', INFO)), 'failure');
    assert.equal((await auth.lookupUser('alice'))?.home, '/srv/mail/alice');
  }
});
