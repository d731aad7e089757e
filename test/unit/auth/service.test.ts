// AuthService behaviour with a passwd-file: caches and their TTLs, recipient mapping (DECISIONS.md),
// username normalisation, temporary failures, and the failure delay applied inside the service.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../../../src/config/schema.js';
import { AuthService, AuthTemporaryError, type ClientInfo } from '../../../src/auth/service.js';
import type { Passdb, PassdbResult } from '../../../src/auth/types.js';
import { setPasswdPassword } from '../../../src/auth/passwd-file.js';

const INFO: ClientInfo = { service: 'imap', remoteIp: '127.0.0.1', secured: true };
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-service-'));
  await writeFile(
    join(dir, 'passwd'),
    ['alice:{PLAIN}a::::/home/alice', 'bob@example.org:{PLAIN}b', 'carol:{PLAIN}c', 'carol@example.org:{PLAIN}c2', ''].join('\n'),
  );
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function config() {
  const c = defaultConfig();
  c.auth.auth_failure_delay = 0;
  c.auth.auth_penalty_init = 0;
  return c;
}

/** A passdb that counts calls and can be switched to failing. */
class CountingPassdb implements Passdb {
  readonly driver = 'counting';
  calls = 0;
  down = false;
  async verifyPlain(user: string, password: string): Promise<PassdbResult> {
    this.calls++;
    if (this.down) throw new Error('backend unreachable');
    if (user === 'known') return password === 'pw' ? { kind: 'ok', user, extra: {} } : { kind: 'mismatch', user };
    return { kind: 'unknown' };
  }
  async lookupCredentials() {
    return { kind: 'unknown' as const };
  }
  async close() {}
}

describe('caches', () => {
  test('positive and negative caches answer within their TTLs, then ask the passdb again', async () => {
    let now = 1_000_000;
    const c = config();
    c.auth.auth_cache_ttl = 60_000;
    c.auth.auth_cache_negative_ttl = 30_000;
    c.auth.userdb_driver = 'passwd-file';
    const passdb = new CountingPassdb();
    await writeFile(join(dir, 'passwd-known'), 'known:{PLAIN}unused\n');
    c.auth.passwd_file = 'passwd-known';
    const auth = await AuthService.create(c, dir, { now: () => now, passdb });
    try {
      assert.equal((await auth.verifyPlain('known', 'pw', INFO)).kind, 'success');
      assert.equal((await auth.verifyPlain('known', 'pw', INFO)).kind, 'success');
      assert.equal(passdb.calls, 1, 'second login from the cache');
      assert.equal((await auth.verifyPlain('known', 'other', INFO)).kind, 'failure');
      assert.equal(passdb.calls, 2, 'a different password is never answered from the cache');
      assert.equal((await auth.verifyPlain('ghost', 'x', INFO)).kind, 'failure');
      assert.equal((await auth.verifyPlain('ghost', 'x', INFO)).kind, 'failure');
      assert.equal(passdb.calls, 3, 'unknown user cached');
      now += 30_001;
      await auth.verifyPlain('ghost', 'x', INFO);
      assert.equal(passdb.calls, 4, 'negative entry expired');
      now += 30_000;
      await auth.verifyPlain('known', 'pw', INFO);
      assert.equal(passdb.calls, 5, 'positive entry expired');
    } finally {
      await auth.close();
    }
  });

  test('a passwd-file change flushes the cache', async () => {
    const c = config();
    c.auth.auth_cache_ttl = 3_600_000;
    await writeFile(join(dir, 'passwd-cache'), 'dan:{PLAIN}old\n');
    c.auth.passwd_file = 'passwd-cache';
    const auth = await AuthService.create(c, dir);
    try {
      assert.equal((await auth.verifyPlain('dan', 'old', INFO)).kind, 'success');
      await setPasswdPassword(join(dir, 'passwd-cache'), 'dan', '{PLAIN}new');
      assert.equal((await auth.verifyPlain('dan', 'old', INFO)).kind, 'failure');
      assert.equal((await auth.verifyPlain('dan', 'new', INFO)).kind, 'success');
    } finally {
      await auth.close();
    }
  });
});

describe('failures', () => {
  test('a passdb that throws gives a temporary failure, never a wrong-password one', async () => {
    const passdb = new CountingPassdb();
    passdb.down = true;
    const auth = await AuthService.create(config(), dir, { passdb });
    try {
      const step = await auth.verifyPlain('known', 'pw', INFO);
      assert.equal(step.kind, 'failure');
      assert.equal(step.kind === 'failure' && step.temporary, true);
    } finally {
      await auth.close();
    }
  });

  test('the failure delay is applied before the failure is returned; close() releases waiting failures', async () => {
    const c = config();
    c.auth.auth_failure_delay = 200;
    const auth = await AuthService.create(c, dir);
    const started = Date.now();
    assert.equal((await auth.verifyPlain('alice', 'wrong', INFO)).kind, 'failure');
    assert.ok(Date.now() - started >= 195);
    c.auth.auth_failure_delay = 60_000;
    const pending = auth.verifyPlain('alice', 'wrong', { ...INFO, remoteIp: '192.0.2.1' });
    await auth.close();
    assert.equal((await pending).kind, 'failure');
  });
});

describe('users and recipients', () => {
  let auth: AuthService;
  before(async () => {
    auth = await AuthService.create(config(), dir);
  });
  after(async () => {
    await auth.close();
  });

  test('login names are normalised with auth_username_format (%Lu)', async () => {
    assert.equal((await auth.verifyPlain('ALICE', 'a', INFO)).kind, 'success');
    assert.equal((await auth.verifyPlain(' Bob@Example.ORG', 'b', INFO)).kind, 'success');
  });

  test('lookupUser answers the userdb record or null', async () => {
    assert.deepEqual(await auth.lookupUser('alice'), { user: 'alice', home: '/home/alice', extra: {} });
    assert.equal(await auth.lookupUser('nobody'), null);
  });

  test('resolveRecipient: local domains, +detail, case, local@domain before local', async () => {
    assert.equal((await auth.resolveRecipient('alice@localhost'))?.user, 'alice');
    assert.equal((await auth.resolveRecipient('Alice+lists@LOCALHOST'))?.user, 'alice');
    assert.equal((await auth.resolveRecipient('alice'))?.user, 'alice');
    assert.equal((await auth.resolveRecipient('<bob+x@example.org>'))?.user, 'bob@example.org');
    assert.equal((await auth.resolveRecipient('carol@example.org'))?.user, 'carol@example.org', 'local@domain wins');
    assert.equal((await auth.resolveRecipient('carol@localhost'))?.user, 'carol');
    assert.equal((await auth.resolveRecipient('alice@example.org'))?.user, 'alice', 'then local');
    assert.equal(await auth.resolveRecipient('alice@remote.example'), null, 'not a local domain');
    assert.equal(await auth.resolveRecipient('nobody@localhost'), null);
  });

  test('lookupUser throws AuthTemporaryError when the userdb cannot answer', async () => {
    const broken = join(dir, 'broken');
    await mkdir(broken);
    const c = config();
    c.auth.passwd_file = 'broken'; // a directory: reading it fails
    const a = await AuthService.create(c, dir);
    try {
      await assert.rejects(a.lookupUser('alice'), AuthTemporaryError);
      const step = await a.verifyPlain('alice', 'a', INFO);
      assert.equal(step.kind === 'failure' && step.temporary, true);
    } finally {
      await a.close();
    }
  });
});
