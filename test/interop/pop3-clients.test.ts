// Real POP3 clients against Roost (RFC 1939): fetchmail and getmail6 download, keep track by UIDL
// (a second run fetches nothing new) and delete; POP3S (implicit TLS) and STLS logins with fetchmail.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { lmtpDeliver, runPython } from '../helpers/python.js';
import { requirePeer } from './peers.js';

let h: RoostHandle;
let base: string;
before(async () => {
  base = mkdtempSync(join(tmpdir(), 'roost-pop3-clients-'));
  // carol and dave keep Maildir++ (the default); mcarol and mdave the same on mbox stores.
  const mbox = (name: string) => ({ name, password: `${name.slice(1)}pw`, home: join(base, `home-${name}`), extra: 'userdb_mail=mbox:~/mail:INBOX=~/mail/inbox' });
  h = await startRoost({ users: [{ name: 'carol', password: 'carolpw' }, { name: 'dave', password: 'davepw' }, { name: 'erin', password: 'erinpw' }, mbox('mcarol'), mbox('mdave')] });
});
after(async () => {
  await h?.stop();
  rmSync(base, { recursive: true, force: true });
});

function runTool(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

async function deliver(user: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await lmtpDeliver(h.ports.lmtp, 'list@example.net', [`${user}@localhost`], `From: list@example.net\r\nSubject: message ${i}\r\nMessage-ID: <${user}.${i}@example.net>\r\n\r\nbody ${i}\r\n`);
  }
}

async function popCount(user: string, pass: string): Promise<number> {
  const out = await runPython(`import poplib,sys\np=poplib.POP3('127.0.0.1',int(sys.argv[1]))\np.user(sys.argv[2]);p.pass_(sys.argv[3])\nprint(p.stat()[0]);p.quit()`, [h.ports.pop3, user, pass]);
  return Number(out.trim());
}

function fetchmailRc(dir: string, user: string, pass: string, extra: string, port = h.ports.pop3): string {
  const rc = join(dir, 'fetchmailrc');
  const out = join(dir, 'out');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    rc,
    `set no syslog\npoll 127.0.0.1 with proto POP3 port ${port} uidl\n` +
      `  user '${user}' there with password '${pass}' is 'root' here ${extra}\n` +
      `  mda "/bin/sh -c 'cat > ${out}/msg.$$'"\n`,
  );
  chmodSync(rc, 0o700);
  return rc;
}

function fetched(dir: string): string[] {
  return readdirSync(join(dir, 'out')).map((f) => readFileSync(join(dir, 'out', f), 'utf8'));
}

for (const [store, user] of [['Maildir++', 'carol'], ['mbox', 'mcarol']] as const) {
test(`fetchmail downloads over STLS from ${store}, a second run fetches nothing new, nokeep deletes`, async (t) => {
  if (!requirePeer(t, 'fetchmail')) return;
  await deliver(user, 3);
  const dir = join(base, `fetchmail-${user}`);
  mkdirSync(dir);
  const env = { HOME: dir, FETCHMAILHOME: dir };
  const rc = fetchmailRc(dir, user, 'carolpw', 'keep sslproto tls1.2+ no sslcertck');
  const first = await runTool('fetchmail', ['-v', '-f', rc, '--pidfile', join(dir, 'pid')], env);
  assert.equal(first.code, 0, first.out);
  assert.equal(fetched(dir).length, 3);
  assert.ok(fetched(dir).every((m) => /Subject: message \d/.test(m)));
  assert.match(first.out, /POP3> STLS/, 'the session was upgraded with STLS');
  const second = await runTool('fetchmail', ['-f', rc, '--pidfile', join(dir, 'pid')], env);
  assert.equal(second.code, 1, `exit 1 means no new mail: ${second.out}`);
  assert.equal(fetched(dir).length, 3, 'nothing new was fetched');
  assert.equal(await popCount(user, 'carolpw'), 3, 'keep left the messages on the server');
  const rcDelete = fetchmailRc(dir, user, 'carolpw', 'nokeep fetchall sslproto tls1.2+ no sslcertck');
  const third = await runTool('fetchmail', ['-f', rcDelete, '--pidfile', join(dir, 'pid')], env);
  assert.equal(third.code, 0, third.out);
  assert.equal(await popCount(user, 'carolpw'), 0, 'nokeep deleted them at QUIT');
});
}

test('fetchmail logs in over POP3S (implicit TLS)', async (t) => {
  if (!requirePeer(t, 'fetchmail')) return;
  await deliver('erin', 1);
  const dir = join(base, 'fetchmail-ssl');
  mkdirSync(dir);
  const rc = fetchmailRc(dir, 'erin', 'erinpw', 'keep ssl no sslcertck', h.ports.pop3s);
  const run = await runTool('fetchmail', ['-f', rc, '--pidfile', join(dir, 'pid')], { HOME: dir, FETCHMAILHOME: dir });
  assert.equal(run.code, 0, run.out);
  assert.equal(fetched(dir).length, 1);
});

for (const [store, user] of [['Maildir++', 'dave'], ['mbox', 'mdave']] as const) {
test(`getmail6 downloads from ${store} into a Maildir, remembers what it saw, and deletes when told`, async (t) => {
  if (!requirePeer(t, 'getmail')) return;
  await deliver(user, 2);
  const dir = join(base, `getmail-${user}`);
  const maildir = join(dir, 'Maildir');
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
  // getmail refuses to deliver as root: it delivers as the unprivileged user that owns the Maildir.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    chmodSync(base, 0o755);
    chmodSync(dir, 0o755);
    for (const p of [maildir, ...['cur', 'new', 'tmp'].map((sub) => join(maildir, sub))]) chownSync(p, 65534, 65534);
  }
  const rc = (del: boolean) => {
    const file = join(dir, del ? 'rc-delete' : 'rc');
    writeFileSync(
      file,
      `[retriever]\ntype = SimplePOP3Retriever\nserver = 127.0.0.1\nport = ${h.ports.pop3}\nusername = ${user}\npassword = davepw\n\n` +
        `[destination]\ntype = Maildir\npath = ${maildir}/\n${asRoot ? 'user = nobody\n' : ''}\n[options]\nread_all = false\ndelete = ${del}\nverbose = 1\n`,
    );
    return file;
  };
  const first = await runTool('getmail', ['--getmaildir', dir, '--rcfile', rc(false)]);
  assert.equal(first.code, 0, first.out);
  assert.equal(readdirSync(join(maildir, 'new')).length, 2);
  const second = await runTool('getmail', ['--getmaildir', dir, '--rcfile', rc(false)]);
  assert.equal(second.code, 0, second.out);
  assert.equal(readdirSync(join(maildir, 'new')).length, 2, 'the second run fetched nothing new');
  assert.match(second.out, /0 messages/);
  await deliver(user, 1);
  const third = await runTool('getmail', ['--getmaildir', dir, '--rcfile', rc(true)]);
  assert.equal(third.code, 0, third.out);
  assert.equal(readdirSync(join(maildir, 'new')).length, 3, 'only the new one was added');
  assert.equal(await popCount(user, 'davepw'), 0, 'delete = true removed the messages from the server');
});
}
