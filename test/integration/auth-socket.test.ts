// The Dovecot-compatible auth sockets over real unix sockets: handshake, AUTH/CONT/OK/FAIL/CANCEL,
// malformed input, failure delay and penalty, passwd-file edits without restart, master users, userdb USER/LIST.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { defaultConfig, type Config } from '../../src/config/schema.js';
import { AuthService } from '../../src/auth/service.js';
import { hashPassword } from '../../src/auth/schemes/index.js';
import { addPasswdUser, setPasswdPassword } from '../../src/auth/passwd-file.js';
import { serveAuthClient, serveAuthUserdb } from '../../src/protocols/auth-socket/index.js';

const FAILURE_DELAY = 150;
const PENALTY_INIT = 150;
const WAIT = 15_000;

/** A line-oriented client of the auth sockets. */
class LineClient {
  readonly lines: string[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(path: string): Promise<LineClient> {
    const socket = createConnection(path);
    await once(socket, 'connect');
    return new LineClient(socket);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(line: string): void {
    this.socket.write(line + '\n');
  }

  /** Waits for (and removes) the first line matching `pred`. */
  async next(pred: (line: string) => boolean = () => true, timeoutMs = WAIT): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex(pred);
      if (i >= 0) return this.lines.splice(i, 1)[0];
      if (this.closed) throw new Error(`connection closed while waiting; lines: ${JSON.stringify(this.lines)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a line; have ${JSON.stringify(this.lines)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async reply(id: string): Promise<string> {
    return this.next((l) => /^(OK|FAIL|CONT)\t/.test(l) && l.split('\t')[1] === id);
  }

  async waitClosed(timeoutMs = WAIT): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection was not closed');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

let dir: string;
let passwdPath: string;
let auth: AuthService;
let clientServer: Server;
let userdbServer: Server;
let clientPath: string;
let userdbPath: string;
const openClients: LineClient[] = [];

async function client(handshake = true): Promise<LineClient> {
  const c = await LineClient.connect(clientPath);
  openClients.push(c);
  if (handshake) {
    await c.next((l) => l === 'DONE');
    c.send('VERSION\t1\t0');
    c.send(`CPID\t${process.pid}`);
  }
  return c;
}

async function listen(server: Server, path: string): Promise<void> {
  server.listen(path);
  await once(server, 'listening');
  await chmod(path, 0o666);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-auth-socket-'));
  passwdPath = join(dir, 'passwd');
  const uid = process.getuid!();
  await writeFile(
    passwdPath,
    [
      '# Roost test users',
      `alice:${await hashPassword('SHA512-CRYPT', 'alice-pw')}:${uid}:${process.getgid!()}::/home/alice::userdb_mail=maildir:~/Maildir userdb_quota_rule=*:storage=1G`,
      `bob@example.org:${await hashPassword('BLF-CRYPT', 'bob-pw', { blfCryptCost: 4 })}::::/home/bob`,
      'carol:{PLAIN}carol-pw',
      'scram:{PLAIN}pencil',
      `wronguid:{PLAIN}pw:${uid + 4242}`,
      'locked:{PLAIN}pw::::::nologin',
      'netonly:{PLAIN}pw::::::allow_nets=192.0.2.0/24',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'master-users'), `admin:${await hashPassword('SSHA256', 'admin-pw')}\n`);
  const config: Config = defaultConfig();
  config.auth.auth_mechanisms = ['plain', 'login', 'cram-md5', 'scram-sha-256'];
  config.auth.auth_failure_delay = FAILURE_DELAY;
  config.auth.auth_penalty_init = PENALTY_INIT;
  config.auth.auth_penalty_max = 4 * PENALTY_INIT;
  config.auth.master_passwd_file = 'master-users';
  auth = await AuthService.create(config, dir);
  const runDir = join(dir, 'run');
  await mkdir(runDir, { mode: 0o755 });
  clientPath = join(runDir, 'auth-client');
  userdbPath = join(runDir, 'auth-userdb');
  clientServer = createServer((s) => serveAuthClient(s, auth));
  userdbServer = createServer((s) => serveAuthUserdb(s, auth));
  await listen(clientServer, clientPath);
  await listen(userdbServer, userdbPath);
});

after(async () => {
  for (const c of openClients) c.close();
  clientServer.close();
  userdbServer.close();
  await auth.close();
  await rm(dir, { recursive: true, force: true });
});

describe('auth-client protocol', () => {
  test('handshake: VERSION, MECH lines with flags, SPID, CUID, COOKIE, DONE', async () => {
    const c = await client(false);
    await c.next((l) => l === 'DONE');
    const lines = c.lines.splice(0);
    assert.equal(lines[0], 'VERSION\t1\t2');
    assert.deepEqual(lines.slice(1, 5), ['MECH\tPLAIN\tplaintext', 'MECH\tLOGIN\tplaintext', 'MECH\tCRAM-MD5\tdictionary\tactive', 'MECH\tSCRAM-SHA-256\tmutual-auth']);
    assert.equal(lines[5], `SPID\t${process.pid}`);
    assert.match(lines[6], /^CUID\t\d+$/);
    assert.match(lines[7], /^COOKIE\t[0-9a-f]{32}$/);
    assert.equal(lines.length, 8);
  });

  test('AUTH PLAIN with resp= answers OK user=', async () => {
    const c = await client();
    c.send(`AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tresp=${b64('\0alice\0alice-pw')}`);
    assert.equal(await c.reply('1'), 'OK\t1\tuser=alice');
    c.send(`AUTH\t2\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=${b64('\0bob@example.org\0bob-pw')}`);
    assert.equal(await c.reply('2'), 'OK\t2\tuser=bob@example.org');
  });

  test('AUTH LOGIN: CONT challenges, CONT responses, OK', async () => {
    const c = await client();
    c.send('AUTH\t7\tLOGIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1');
    assert.equal(await c.reply('7'), `CONT\t7\t${b64('Username:')}`);
    c.send(`CONT\t7\t${b64('carol')}`);
    assert.equal(await c.reply('7'), `CONT\t7\t${b64('Password:')}`);
    c.send(`CONT\t7\t${b64('carol-pw')}`);
    assert.equal(await c.reply('7'), 'OK\t7\tuser=carol');
  });

  test('PLAIN without resp gets a CONT that keeps its TAB', async () => {
    const c = await client();
    c.send('AUTH\t3\tPLAIN\tservice=imap\trip=127.0.0.1');
    assert.equal(await c.reply('3'), 'CONT\t3\t');
    c.send(`CONT\t3\t${b64('\0carol\0carol-pw')}`);
    assert.equal(await c.reply('3'), 'OK\t3\tuser=carol');
  });

  test('a wrong password and an unknown user get the same FAIL, no sooner than the failure delay', async () => {
    const c = await client();
    for (const [id, payload] of [
      ['10', '\0alice\0wrong'],
      ['11', '\0nosuchuser\0wrong'],
    ] as const) {
      const started = Date.now();
      c.send(`AUTH\t${id}\tPLAIN\tservice=smtp\trip=198.51.100.${id}\tresp=${b64(payload)}`);
      assert.equal(await c.reply(id), `FAIL\t${id}`);
      assert.ok(Date.now() - started >= FAILURE_DELAY - 5, `answered after ${Date.now() - started} ms`);
    }
  });

  test('repeated failures from one IP grow the delay; a success resets it', async () => {
    const c = await client();
    const ip = '203.0.113.9';
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      c.send(`AUTH\t${20 + i}\tPLAIN\tservice=smtp\trip=${ip}\tsecured\tresp=${b64('\0alice\0bad')}`);
      assert.equal(await c.reply(String(20 + i)), `FAIL\t${20 + i}`);
      durations.push(Date.now() - started);
    }
    assert.ok(durations[0] >= FAILURE_DELAY - 5, `first ${durations[0]}`);
    assert.ok(durations[1] >= FAILURE_DELAY + PENALTY_INIT - 5, `second ${durations[1]}`);
    assert.ok(durations[2] >= FAILURE_DELAY + 2 * PENALTY_INIT - 5, `third ${durations[2]}`);
    assert.equal(auth.failureDelayFor(ip), FAILURE_DELAY + 4 * PENALTY_INIT);
    c.send(`AUTH\t30\tPLAIN\tservice=smtp\trip=${ip}\tsecured\tresp=${b64('\0alice\0alice-pw')}`);
    assert.equal(await c.reply('30'), 'OK\t30\tuser=alice');
    assert.equal(auth.failureDelayFor(ip), FAILURE_DELAY);
  });

  test('plaintext from an unsecured remote IP fails unless the client says secured', async () => {
    const c = await client();
    c.send(`AUTH\t40\tPLAIN\tservice=smtp\trip=192.0.2.77\tresp=${b64('\0carol\0carol-pw')}`);
    assert.equal(await c.reply('40'), 'FAIL\t40');
    c.send(`AUTH\t41\tPLAIN\tservice=smtp\trip=192.0.2.77\tsecured\tresp=${b64('\0carol\0carol-pw')}`);
    assert.equal(await c.reply('41'), 'OK\t41\tuser=carol');
  });

  test('uid mismatch, nologin and allow_nets refuse the login', async () => {
    const c = await client();
    c.send(`AUTH\t50\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0wronguid\0pw')}`);
    assert.equal(await c.reply('50'), 'FAIL\t50');
    c.send(`AUTH\t51\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0locked\0pw')}`);
    assert.equal(await c.reply('51'), 'FAIL\t51');
    c.send(`AUTH\t52\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0netonly\0pw')}`);
    assert.equal(await c.reply('52'), 'FAIL\t52');
    c.send(`AUTH\t53\tPLAIN\tservice=imap\trip=192.0.2.8\tsecured\tresp=${b64('\0netonly\0pw')}`);
    assert.equal(await c.reply('53'), 'OK\t53\tuser=netonly');
  });

  test('SCRAM-SHA-256: the server-final message comes as CONT, or in OK with final-resp-ok', async () => {
    const c = await client();
    for (const [id, extra] of [
      ['60', ''],
      ['61', '\tfinal-resp-ok'],
    ] as const) {
      const { createHash, createHmac, pbkdf2Sync } = await import('node:crypto');
      const clientFirstBare = 'n=scram,r=nonce' + id;
      c.send(`AUTH\t${id}\tSCRAM-SHA-256\tservice=imap\trip=127.0.0.1${extra}\tresp=${b64('n,,' + clientFirstBare)}`);
      const cont = await c.reply(id);
      const serverFirst = Buffer.from(cont.split('\t')[2], 'base64').toString();
      const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
      const salted = pbkdf2Sync('pencil', Buffer.from(attrs.s, 'base64'), Number(attrs.i), 32, 'sha256');
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=biws,r=${attrs.r}`;
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const sig = createHmac('sha256', storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i])).toString('base64');
      c.send(`CONT\t${id}\t${b64(`${withoutProof},p=${proof}`)}`);
      const v = createHmac('sha256', createHmac('sha256', salted).update('Server Key').digest()).update(authMessage).digest('base64');
      if (extra) {
        assert.equal(await c.reply(id), `OK\t${id}\tuser=scram\tresp=${b64(`v=${v}`)}`);
      } else {
        assert.equal(await c.reply(id), `CONT\t${id}\t${b64(`v=${v}`)}`);
        c.send(`CONT\t${id}\t`);
        assert.equal(await c.reply(id), `OK\t${id}\tuser=scram`);
      }
    }
  });

  test('CANCEL drops a request; a later CONT for it fails', async () => {
    const c = await client();
    c.send('AUTH\t70\tLOGIN\tservice=smtp\trip=127.0.0.1');
    await c.reply('70');
    c.send('CANCEL\t70');
    c.send(`CONT\t70\t${b64('carol')}`);
    assert.match(await c.reply('70'), /^FAIL\t70\t/);
  });

  test('master users: user*master and a PLAIN authzid log in as the user', async () => {
    const c = await client();
    c.send(`AUTH\t80\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0alice*admin\0admin-pw')}`);
    assert.equal(await c.reply('80'), 'OK\t80\tuser=alice\tauth_user=admin');
    c.send(`AUTH\t81\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('carol\0admin\0admin-pw')}`);
    assert.equal(await c.reply('81'), 'OK\t81\tuser=carol\tauth_user=admin');
    c.send(`AUTH\t82\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('carol\0admin\0wrong')}`);
    assert.equal(await c.reply('82'), 'FAIL\t82');
    c.send(`AUTH\t83\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('carol\0alice\0alice-pw')}`);
    assert.equal(await c.reply('83'), 'FAIL\t83', 'an ordinary user cannot act as another');
    c.send(`AUTH\t84\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0nobody*admin\0admin-pw')}`);
    assert.equal(await c.reply('84'), 'FAIL\t84', 'the target user must exist');
  });

  test('editing the passwd-file takes effect without restart', async () => {
    const c = await client();
    c.send(`AUTH\t90\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0dave\0dave-pw')}`);
    assert.equal(await c.reply('90'), 'FAIL\t90');
    await addPasswdUser(passwdPath, { user: 'dave', password: await hashPassword('SSHA512', 'dave-pw'), extra: {} });
    c.send(`AUTH\t91\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0dave\0dave-pw')}`);
    assert.equal(await c.reply('91'), 'OK\t91\tuser=dave');
    assert.equal(await setPasswdPassword(passwdPath, 'dave', await hashPassword('PBKDF2', 'new-pw')), true);
    c.send(`AUTH\t92\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0dave\0dave-pw')}`);
    assert.equal(await c.reply('92'), 'FAIL\t92');
    c.send(`AUTH\t93\tPLAIN\tservice=imap\trip=127.0.0.1\tresp=${b64('\0dave\0new-pw')}`);
    assert.equal(await c.reply('93'), 'OK\t93\tuser=dave');
  });
});

describe('temporary failures', () => {
  test('a passdb that cannot be read answers FAIL with temp', async () => {
    const brokenData = join(dir, 'broken-data');
    await mkdir(join(brokenData, 'passwd'), { recursive: true }); // a directory where the file should be
    const c = defaultConfig();
    c.auth.auth_failure_delay = 0;
    const brokenAuth = await AuthService.create(c, brokenData);
    const path = join(dir, 'run', 'auth-client-broken');
    const server = createServer((s) => serveAuthClient(s, brokenAuth));
    await listen(server, path);
    try {
      const cl = await LineClient.connect(path);
      openClients.push(cl);
      await cl.next((l) => l === 'DONE');
      cl.send('VERSION\t1\t0');
      cl.send(`AUTH\t1\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=${b64('\0carol\0carol-pw')}`);
      assert.equal(await cl.reply('1'), 'FAIL\t1\ttemp');
    } finally {
      server.close();
      await brokenAuth.close();
    }
  });
});

describe('malformed auth-client input', () => {
  test('a line without TAB or an unknown command closes that connection; others keep working', async () => {
    const bystander = await client();
    for (const bad of ['HELLO', 'FROB\t1\t2', 'AUTH', 'AUTH\tx\tPLAIN']) {
      const c = await client();
      c.send(bad);
      await c.waitClosed();
    }
    bystander.send(`AUTH\t1\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=${b64('\0carol\0carol-pw')}`);
    assert.equal(await bystander.reply('1'), 'OK\t1\tuser=carol');
  });

  test('a 20 KB line closes the connection', async () => {
    const c = await client();
    c.send(`AUTH\t1\tPLAIN\tservice=smtp\tresp=${'A'.repeat(20 * 1024)}`);
    await c.waitClosed();
    const c2 = await client();
    c2.socket.write('X'.repeat(20 * 1024)); // no LF at all
    await c2.waitClosed();
  });

  test('a wrong VERSION or a command before VERSION closes the connection', async () => {
    const c = await client(false);
    c.send('VERSION\t2\t0');
    await c.waitClosed();
    const c2 = await client(false);
    c2.send(`AUTH\t1\tPLAIN\tresp=${b64('\0carol\0carol-pw')}`);
    await c2.waitClosed();
  });

  test('bad base64 and CONT for an unknown id get FAIL; the connection stays usable', async () => {
    const c = await client();
    c.send('AUTH\t1\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=!!!notbase64');
    assert.match(await c.reply('1'), /^FAIL\t1\treason=/);
    c.send(`CONT\t999\t${b64('x')}`);
    assert.match(await c.reply('999'), /^FAIL\t999\treason=/);
    c.send('AUTH\t2\tLOGIN\tservice=smtp\trip=127.0.0.1');
    await c.reply('2');
    c.send('CONT\t2\t%%%');
    assert.match(await c.reply('2'), /^FAIL\t2\treason=/);
    c.send(`AUTH\t3\tPLAIN\tservice=smtp\trip=127.0.0.1\tresp=${b64('\0carol\0carol-pw')}`);
    assert.equal(await c.reply('3'), 'OK\t3\tuser=carol');
  });

  test('a duplicate request id closes the connection', async () => {
    const c = await client();
    c.send('AUTH\t5\tLOGIN\tservice=smtp\trip=127.0.0.1');
    await c.reply('5');
    c.send('AUTH\t5\tLOGIN\tservice=smtp\trip=127.0.0.1');
    await c.waitClosed();
  });

  test('an unknown mechanism fails', async () => {
    const c = await client();
    c.send('AUTH\t1\tGSSAPI\tservice=smtp\trip=127.0.0.1');
    assert.equal(await c.reply('1'), 'FAIL\t1');
  });
});

describe('auth-userdb protocol', () => {
  async function userdbClient(): Promise<LineClient> {
    const c = await LineClient.connect(userdbPath);
    openClients.push(c);
    assert.equal(await c.next(), 'VERSION\t1\t1');
    assert.match(await c.next(), /^SPID\t\d+$/);
    c.send('VERSION\t1\t0');
    return c;
  }

  test('USER answers the userdb fields, NOTFOUND for unknown users', async () => {
    const c = await userdbClient();
    c.send('USER\t1\talice\tservice=lmtp');
    assert.equal(
      await c.next((l) => l.split('\t')[1] === '1'),
      `USER\t1\talice\tuid=${process.getuid!()}\tgid=${process.getgid!()}\thome=/home/alice\tmail=maildir:~/Maildir\tquota_rule=*:storage=1G`,
    );
    c.send('USER\t2\tBOB@example.org\tservice=lmtp');
    assert.equal(await c.next((l) => l.split('\t')[1] === '2'), 'USER\t2\tbob@example.org\thome=/home/bob');
    c.send('USER\t3\tnobody\tservice=lmtp');
    assert.equal(await c.next((l) => l.split('\t')[1] === '3'), 'NOTFOUND\t3');
    c.send('USER\t4\tcarol+tag@localhost\tservice=lmtp');
    assert.equal(await c.next((l) => l.split('\t')[1] === '4'), 'USER\t4\tcarol');
  });

  test('LIST names every user', async () => {
    const c = await userdbClient();
    c.send('LIST\t9');
    await c.next((l) => l === 'DONE\t9');
    const users = c.lines.filter((l) => l.startsWith('LIST\t9\t')).map((l) => l.split('\t')[2]);
    for (const u of ['alice', 'bob@example.org', 'carol']) assert.ok(users.includes(u), u);
  });

  test('an unknown command closes the connection', async () => {
    const c = await userdbClient();
    c.send('FROB\t1');
    await c.waitClosed();
  });
});
