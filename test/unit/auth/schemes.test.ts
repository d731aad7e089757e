// Password schemes against independent implementations: hashes from Dovecot's `doveadm pw`, mkpasswd
// and openssl verify (and wrong passwords fail); Roost's hashes verify with `doveadm pw -t`.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary } from '../../interop/peers.js';
import {
  verifyPassword,
  hashPassword,
  storedCredentials,
  cramMd5Context,
  hmacMd5FromContext,
  hmacMd5,
  SCHEME_NAMES,
} from '../../../src/auth/schemes/index.js';

const run = promisify(execFile);
const PASSWORD = 'pässword 1';
const WRONG = 'pässword 2';

/** True when the tool exists; with CI=true a missing tool fails, else the test is skipped loudly. */
function requireTool(t: { skip(msg: string): void }, name: string): boolean {
  if (findBinary(name)) return true;
  const message = `TOOL MISSING: ${name}; run scripts/install-peers`;
  if (process.env.CI === 'true') throw new Error(message);
  process.stderr.write(`\n!!!!! ${message} -- SKIPPING !!!!!\n\n`);
  t.skip(message);
  return false;
}

const DOVECOT_SCHEMES = [
  'BLF-CRYPT',
  'SHA512-CRYPT',
  'SHA256-CRYPT',
  'MD5-CRYPT',
  'ARGON2ID',
  'ARGON2I',
  'PBKDF2',
  'SSHA512',
  'SSHA256',
  'SSHA',
  'SMD5',
  'SHA512',
  'SHA256',
  'SHA',
  'SHA1',
  'PLAIN-MD5',
  'LDAP-MD5',
  'PLAIN',
  'CLEARTEXT',
  'CRAM-MD5',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'SHA512.HEX',
  'SSHA.HEX',
  'SHA256.B64',
  'PLAIN.B64',
  'CRAM-MD5.B64',
  'MD5',
  'CRYPT',
];

async function doveadmHash(scheme: string, password: string): Promise<string> {
  const { stdout } = await run(findBinary('doveadm')!, ['pw', '-s', scheme, '-p', password]);
  return stdout.trim();
}

async function doveadmVerifies(hash: string, password: string): Promise<boolean> {
  try {
    const { stdout } = await run(findBinary('doveadm')!, ['pw', '-t', hash, '-p', password]);
    return /verified/.test(stdout);
  } catch {
    return false;
  }
}

describe('hashes made by doveadm pw verify', { concurrency: 4 }, () => {
  for (const scheme of DOVECOT_SCHEMES) {
    test(scheme, async (t) => {
      if (!requireTool(t, 'doveadm')) return;
      const hash = await doveadmHash(scheme, PASSWORD);
      assert.equal(await verifyPassword(hash, PASSWORD), true, `${hash} should verify`);
      assert.equal(await verifyPassword(hash, WRONG), false);
      assert.equal(await verifyPassword(hash, ''), false);
    });
  }
});

describe("Roost's hashes verify with doveadm pw -t", { concurrency: 4 }, () => {
  const ours = SCHEME_NAMES.filter((s) => s !== 'SCRAM-SHA-1').concat(['SHA512.HEX', 'SSHA256.HEX', 'PLAIN.B64']);
  for (const scheme of ours) {
    test(scheme, async (t) => {
      if (!requireTool(t, 'doveadm')) return;
      const hash = await hashPassword(scheme, PASSWORD, { blfCryptCost: 5 });
      assert.ok(hash.startsWith(`{${scheme.split('.')[0]}`), hash);
      assert.equal(await doveadmVerifies(hash, PASSWORD), true, `doveadm should verify ${hash}`);
      assert.equal(await doveadmVerifies(hash, WRONG), false);
      assert.equal(await verifyPassword(hash, PASSWORD), true);
      assert.equal(await verifyPassword(hash, WRONG), false);
    });
  }
});

describe('bare crypt strings from mkpasswd and openssl', { concurrency: 4 }, () => {
  const cases: [string, string[]][] = [
    ['mkpasswd', ['-m', 'sha-512']],
    ['mkpasswd', ['-m', 'sha-256']],
    ['mkpasswd', ['-m', 'md5crypt']],
    ['mkpasswd', ['-m', 'bcrypt', '-R', '5']],
    ['mkpasswd', ['-m', 'sha-512', '-R', '7000']],
    ['openssl', ['passwd', '-6']],
    ['openssl', ['passwd', '-5']],
    ['openssl', ['passwd', '-1']],
    ['openssl', ['passwd', '-apr1']],
  ];
  for (const [tool, args] of cases) {
    test(`${tool} ${args.join(' ')}`, async (t) => {
      if (!requireTool(t, tool)) return;
      const { stdout } = await run(findBinary(tool)!, [...args, 'password1']);
      const hash = stdout.trim();
      assert.equal(await verifyPassword(hash, 'password1'), true, hash);
      assert.equal(await verifyPassword(`{CRYPT}${hash}`, 'password1'), true);
      assert.equal(await verifyPassword(hash, 'password2'), false);
    });
  }
});

test('a $2y$ hash is checked like $2b$ (the bcrypt library rejects the prefix itself)', async () => {
  const hash = await hashPassword('BLF-CRYPT', 'secret', { blfCryptCost: 4 });
  assert.match(hash, /^\{BLF-CRYPT\}\$2y\$04\$/);
  assert.equal(await verifyPassword(hash.replace('{BLF-CRYPT}', ''), 'secret'), true);
  assert.equal(await verifyPassword(hash.replace('$2y$', '$2b$'), 'secret'), true);
  assert.equal(await verifyPassword(hash, 'Secret'), false);
});

test('unknown schemes, malformed data and undeclared plaintext never match', async () => {
  assert.equal(await verifyPassword('{NOPE}x', 'x'), false);
  assert.equal(await verifyPassword('{SHA256}not base64!', 'x'), false);
  assert.equal(await verifyPassword('{PBKDF2}$1$salt$abc$zz', 'x'), false);
  assert.equal(await verifyPassword('{BLF-CRYPT}$2y$10$short', 'x'), false);
  assert.equal(await verifyPassword('$6$salt', 'x'), false);
  // Without a prefix the default scheme applies; a crypt default only takes crypt-looking strings.
  assert.equal(await verifyPassword('secret', 'secret', { defaultScheme: 'PLAIN' }), true);
  assert.equal(await verifyPassword('secret', 'secret', { defaultScheme: 'BLF-CRYPT' }), false);
  await assert.rejects(hashPassword('NOPE', 'x'), /unknown password scheme/);
});

test('the crypt worker does not block the event loop while hashing', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  await Promise.all(Array.from({ length: 4 }, () => hashPassword('SHA512-CRYPT', 'x', { rounds: 20_000 })));
  clearInterval(timer);
  assert.ok(ticks > 0, 'timers ran while hashes were computed');
});

test('CRAM-MD5 context answers the RFC 2195 example like HMAC-MD5 with the plaintext', () => {
  const challenge = Buffer.from('<1896.697170952@postoffice.reston.mci.net>');
  const context = cramMd5Context('tanstaaftanstaaf');
  assert.equal(hmacMd5FromContext(context, challenge).toString('hex'), 'b913a602c7eda7a495b4e6e7334d3890');
  assert.equal(hmacMd5('tanstaaftanstaaf', challenge).toString('hex'), 'b913a602c7eda7a495b4e6e7334d3890');
  const longKey = 'k'.repeat(100);
  assert.deepEqual(hmacMd5FromContext(cramMd5Context(longKey), challenge), hmacMd5(longKey, challenge));
});

test('storedCredentials hands out only what the stored form holds', async () => {
  assert.equal(storedCredentials('{PLAIN}pw', 'PLAIN')?.toString(), 'pw');
  assert.equal(storedCredentials('{PLAIN.B64}cHc=', 'PLAIN')?.toString(), 'pw');
  const cram = await hashPassword('CRAM-MD5', 'pw');
  assert.equal(storedCredentials(cram, 'CRAM-MD5')?.length, 32);
  assert.equal(storedCredentials(cram, 'PLAIN'), undefined);
  assert.equal(storedCredentials(await hashPassword('SSHA', 'pw'), 'CRAM-MD5'), undefined);
});
