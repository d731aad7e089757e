// Started as root with mail_user set, the daemon binds, hands its data directory over and drops to that
// user: its uid changes, deliveries and logins still work, SIGHUP still reads the certificate, SIGTERM cleans up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoost } from '../helpers/roost.js';
import { lmtpDeliver, runPython } from '../helpers/python.js';
import { ensureMailUser } from '../interop/peers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!;
  return Number(line.split(/\s+/)[1]);
}

test('as root with mail_user, the daemon drops to that user and keeps working', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root (CI runs as root)');
    return;
  }
  const vmail = ensureMailUser();
  const base = mkdtempSync(join(tmpdir(), 'roost-privdrop-'));
  dirs.push(base);
  chmodSync(base, 0o755);
  const h = await startRoost({ dataDir: join(base, 'data'), users: [{ name: 'alice', password: 'pw' }], configToml: `[server]\nmail_user = "${vmail.name}"\n`, generateCert: true });
  try {
    await h.waitForLog((l) => l.includes('dropped privileges'));
    assert.equal(uidOf(h.pid), vmail.uid, 'the daemon runs as the mail user');
    const key = statSync(join(h.dataDir, 'certs', 'roost.key'));
    assert.equal(key.uid, vmail.uid, 'the key stays readable by the mail user');
    assert.equal(key.mode & 0o777, 0o600);
    await lmtpDeliver(h.ports.lmtp, 'a@example.net', ['alice@localhost'], 'Subject: after drop\r\n\r\nbody\r\n');
    const count = await runPython(
      `import imaplib,sys\nM=imaplib.IMAP4('127.0.0.1',int(sys.argv[1]))\nM.login('alice','pw')\nprint(M.select('INBOX')[1][0].decode())\nM.logout()`,
      [h.ports.imap],
    );
    assert.equal(count.trim(), '1');
    const before = h.output.filter((l) => l.includes('reloaded configuration')).length;
    process.kill(h.pid, 'SIGHUP');
    await h.waitForLog(() => h.output.filter((l) => l.includes('reloaded configuration')).length > before);
    assert.ok(!h.output.some((l) => l.includes('reload failed')), 'the certificate was re-read as the mail user');
    const socket = h.paths['lmtp-unix'];
    assert.equal(await h.stop(), 0);
    assert.ok(!existsSync(socket), 'the mail user could remove its sockets at shutdown');
  } finally {
    await h.kill();
  }
});
