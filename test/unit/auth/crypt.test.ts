// SHA-crypt ($5$/$6$) and MD5-crypt ($1$/$apr1$) on node:crypto against Drepper's own test vectors and
// strings from openssl and libxcrypt; the worker pool spreads hashes over threads and survives failures.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { shaCrypt, parseShaCryptSetting } from '../../../src/auth/schemes/sha-crypt-algorithm.js';
import { md5Crypt } from '../../../src/auth/schemes/md5-crypt-algorithm.js';
import { CryptWorkerPool, cryptPool } from '../../../src/auth/schemes/crypt-worker.js';
import { verifyPassword, hashPassword } from '../../../src/auth/schemes/index.js';

const LONG_TEXT = 'a very much longer text to encrypt.  This one even stretches over morethan one line.';

/**
 * The test vectors of Drepper's "Unix crypt using SHA-256 and SHA-512" (each also checked against
 * `openssl passwd`; libxcrypt agrees except that it refuses rounds below 1000 instead of clamping).
 */
const SPEC_VECTORS: [setting: string, password: string, expected: string][] = [
  ['$5$saltstring', 'Hello world!', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  ['$5$rounds=10000$saltstringsaltstring', 'Hello world!', '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA'],
  ['$5$rounds=5000$toolongsaltstring', 'This is just a test', '$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5'],
  ['$5$rounds=1400$anotherlongsaltstring', LONG_TEXT, '$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1'],
  ['$5$rounds=77777$short', 'we have a short salt string but not a short password', '$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/'],
  ['$5$rounds=123456$asaltof16chars..', 'a short string', '$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD'],
  ['$5$rounds=10$roundstoolow', 'the minimum number is still observed', '$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC'],
  ['$6$saltstring', 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  ['$6$rounds=10000$saltstringsaltstring', 'Hello world!', '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.'],
  ['$6$rounds=5000$toolongsaltstring', 'This is just a test', '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0'],
  ['$6$rounds=1400$anotherlongsaltstring', LONG_TEXT, '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1'],
  ['$6$rounds=77777$short', 'we have a short salt string but not a short password', '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0'],
  ['$6$rounds=123456$asaltof16chars..', 'a short string', '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1'],
  ['$6$rounds=10$roundstoolow', 'the minimum number is still observed', '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.'],
];

/** Strings made by libxcrypt (Python's crypt module) and `openssl passwd`: empty and UTF-8 keys, '$' in the salt. */
const TOOL_VECTORS: [setting: string, password: string, expected: string][] = [
  ['$5$saltstring', '', '$5$saltstring$FdNfA4gXqvCeO6iZs7G/.wwwoywYZqo0l1pwmfWaBA7'],
  ['$6$ab', '', '$6$ab$xnh5Qsr2NdbFw1PgdZie7nLON3gv.S.23iQDBqAzkdoXPtDnVSpludXkM5UWybQO3OI7hBj9wHg9Ow6sUWD60/'],
  ['$6$rounds=5000$abcdefgh', 'pässword 1', '$6$rounds=5000$abcdefgh$i3g8hExOlS2s.nHIusTtLu8HSrYgmVHKa1tSsyMksB2z8xRYAPWM9BMPcCSndYhWj/08XzteuaTpLLUFrD1Yf1'],
  ['$6$abc$def', 'Hello world!', '$6$abc$GCTGv8BAYFK9TuIDXKHVUoVaWzmkdLPay1r1GJAxMKQQ6z7t2Tmm65U/P.hZAegWFrLmTkbtZjkq60zEQBj03.'],
  ['$5$rounds=5000$saltstring', 'Hello world!', '$5$rounds=5000$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5'],
  ['$1$saltstring', 'Hello world!', '$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1'],
  ['$apr1$saltstring', 'Hello world!', '$apr1$saltstri$aGfuB7Lcvs2TUeFTqUVfN0'],
  ['$1$abcdefgh', 'pässword 1', '$1$abcdefgh$IMzVET/M1yYukWiD32Z.T0'],
  ['$1$abcdefgh', '', '$1$abcdefgh$M55TzYaaccxVGbptZWaxX/'],
  ['$apr1$x.Y/z9', 'a much longer password, longer than sixteen bytes', '$apr1$x.Y/z9$hoLNtHuqnelhQc1RiIrJf.'],
];

function crypt(password: string, setting: string): string {
  const fn = setting.startsWith('$1$') || setting.startsWith('$apr1$') ? md5Crypt : shaCrypt;
  return fn(Buffer.from(password, 'utf8'), Buffer.from(setting, 'utf8')).toString('utf8');
}

describe('SHA-crypt: the specification test vectors', () => {
  for (const [setting, password, expected] of SPEC_VECTORS) {
    test(setting, () => {
      assert.equal(crypt(password, setting), expected);
    });
  }
});

describe('SHA-crypt and MD5-crypt: strings from libxcrypt and openssl', () => {
  for (const [setting, password, expected] of TOOL_VECTORS) {
    test(`${setting} ${JSON.stringify(password)}`, () => {
      assert.equal(crypt(password, setting), expected);
      // The full string works as its own setting, as crypt(3) verification uses it.
      assert.equal(crypt(password, expected), expected);
    });
  }
});

test('verifyPassword checks the vectors through the worker pool, bare and with {CRYPT}', async () => {
  const all = [...SPEC_VECTORS.filter(([s]) => !/rounds=(77777|123456)/.test(s)), ...TOOL_VECTORS];
  await Promise.all(
    all.map(async ([, password, expected]) => {
      assert.equal(await verifyPassword(expected, password), true, expected);
      assert.equal(await verifyPassword(`{CRYPT}${expected}`, password), true, expected);
      assert.equal(await verifyPassword(expected, password + 'x'), false, expected);
    }),
  );
});

test('the rounds setting follows glibc: clamped to 1000..999999999, named in the output when given', () => {
  const parse = (s: string) => {
    const p = parseShaCryptSetting(Buffer.from(s));
    return p && { rounds: p.rounds, custom: p.roundsCustom, salt: p.salt.toString() };
  };
  assert.deepEqual(parse('$6$salt'), { rounds: 5000, custom: false, salt: 'salt' });
  assert.deepEqual(parse('$6$rounds=5000$salt'), { rounds: 5000, custom: true, salt: 'salt' });
  assert.deepEqual(parse('$5$rounds=10$salt$hash'), { rounds: 1000, custom: true, salt: 'salt' });
  assert.deepEqual(parse('$5$rounds=99999999999$salt'), { rounds: 999_999_999, custom: true, salt: 'salt' });
  assert.deepEqual(parse('$6$rounds=$salt'), { rounds: 1000, custom: true, salt: 'salt' });
  // Without a '$' after the number it is no rounds setting: the text is the salt (cut at 16).
  assert.deepEqual(parse('$6$rounds=12x$salt'), { rounds: 5000, custom: false, salt: 'rounds=12x' });
  assert.deepEqual(parse('$6$0123456789abcdefXYZ'), { rounds: 5000, custom: false, salt: '0123456789abcdef' });
  assert.equal(parse('$1$salt'), undefined);
  assert.throws(() => shaCrypt(Buffer.from('x'), Buffer.from('$1$salt')));
  assert.throws(() => md5Crypt(Buffer.from('x'), Buffer.from('$6$salt')));
});

test('generated SHA-crypt hashes carry rounds=N only when it is not the default', async () => {
  const plain = await hashPassword('SHA256-CRYPT', 'pw');
  assert.match(plain, /^\{SHA256-CRYPT\}\$5\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{43}$/);
  const custom = await hashPassword('SHA512-CRYPT', 'pw', { rounds: 1200 });
  assert.match(custom, /^\{SHA512-CRYPT\}\$6\$rounds=1200\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  assert.equal(await verifyPassword(custom, 'pw'), true);
  const md5 = await hashPassword('MD5-CRYPT', 'pw');
  assert.match(md5, /^\{MD5-CRYPT\}\$1\$[./0-9A-Za-z]{8}\$[./0-9A-Za-z]{22}$/);
  assert.equal(await verifyPassword(md5, 'pw'), true);
});

test('the pool has one thread per CPU (at least 2) and concurrent hashes run on several of them', async () => {
  const pool = new CryptWorkerPool();
  assert.ok(pool.size >= 2);
  assert.ok(cryptPool.size >= 2);
  const results = await Promise.all(
    Array.from({ length: 6 }, () => pool.run({ op: 'sha-crypt', password: 'x', setting: '$6$rounds=20000$abc' })),
  );
  assert.equal(new Set(results.map((r) => r.toString())).size, 1);
  assert.ok(pool.threadsStarted >= 2, `threads started: ${pool.threadsStarted}`);
  assert.ok(pool.threadsStarted <= pool.size);
});

test('a thread that fails to start rejects its job (a failed login), never hangs', async () => {
  const pool = new CryptWorkerPool(2, { threadUrl: new URL('./no-such-crypt-thread.js', import.meta.url).href });
  const results = await Promise.allSettled(
    Array.from({ length: 3 }, () => pool.run({ op: 'md5-crypt', password: 'x', setting: '$1$abc' })),
  );
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
});

test('hashing many passwords at once leaves the event loop free', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const started = performance.now();
  await Promise.all(Array.from({ length: 8 }, (_, i) => verifyPassword(SPEC_VECTORS[1][2], i === 0 ? 'Hello world!' : 'wrong')));
  const elapsed = performance.now() - started;
  clearInterval(timer);
  assert.ok(ticks > 0, 'timers ran while hashes were computed');
  // Timers firing throughout (not just once at the end) show the main thread was not busy.
  assert.ok(ticks >= Math.min(10, elapsed / 20), `ticks ${ticks} in ${elapsed.toFixed(0)} ms`);
});
