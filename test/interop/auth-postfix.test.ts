// A real Postfix (smtpd_sasl_type = dovecot) authenticating through Roost's auth-client socket:
// AUTH PLAIN and AUTH LOGIN over STARTTLS succeed, a wrong password gets 535, and relaying needs auth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary, makeTraversable, requirePeer, startPostfix, type PostfixHandle } from './peers.js';
import { defaultConfig } from '../../src/config/schema.js';
import { AuthService } from '../../src/auth/service.js';
import { hashPassword } from '../../src/auth/schemes/index.js';
import { serveAuthClient } from '../../src/protocols/auth-socket/index.js';

const run = promisify(execFile);

/** Python smtplib session steps; prints one JSON object with the SMTP codes seen. */
const SMTP_CLIENT = String.raw`
import base64, json, smtplib, ssl, sys
port = int(sys.argv[1])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}

def session(tls=True):
    s = smtplib.SMTP('127.0.0.1', port, timeout=60)
    s.ehlo('client.example')
    if tls:
        s.starttls(context=ctx)
        s.ehlo('client.example')
    return s

def try_relay(s):
    s.mail('sender@client.example')
    code, _ = s.rcpt('someone@remote.example')
    return code

s = session(tls=False)
out['auth_before_tls'] = s.has_extn('auth')
s.quit()

s = session()
out['mechanisms'] = s.esmtp_features.get('auth', '')
out['relay_without_auth'] = try_relay(s)
s.quit()

s = session()
code, _ = s.docmd('AUTH', 'PLAIN ' + base64.b64encode(b'\0alice\0alice-pw').decode())
out['plain'] = code
out['relay_after_plain'] = try_relay(s)
s.quit()

s = session()
s.user, s.password = 'bob', 'bob-pw'
code, _ = s.auth('LOGIN', s.auth_login, initial_response_ok=False)
out['login'] = code
out['relay_after_login'] = try_relay(s)
s.quit()

s = session()
code, msg = s.docmd('AUTH', 'PLAIN ' + base64.b64encode(b'\0alice\0wrong-pw').decode())
out['wrong_password'] = code
out['wrong_password_text'] = msg.decode()
out['relay_after_failure'] = try_relay(s)
s.quit()

s = session()
code, msg = s.docmd('AUTH', 'PLAIN ' + base64.b64encode(b'\0nobody\0whatever').decode())
out['unknown_user'] = code
s.quit()
print(json.dumps(out))
`;

let dir: string;
let auth: AuthService | undefined;
let server: Server | undefined;
let postfix: PostfixHandle | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'roost-auth-postfix-'));
});

after(async () => {
  await postfix?.stop();
  server?.close();
  await auth?.close();
  await rm(dir, { recursive: true, force: true });
});

test('Postfix authenticates SMTP clients through the Roost auth socket', { timeout: 120_000 }, async (t) => {
  if (!requirePeer(t, 'postfix') || !requirePeer(t, 'openssl')) return;
  if (!findBinary('python3')) {
    if (process.env.CI === 'true') throw new Error('python3 missing');
    t.skip('python3 missing');
    return;
  }
  const data = join(dir, 'data');
  await mkdir(join(data, 'run'), { recursive: true });
  await writeFile(
    join(data, 'passwd'),
    `alice:${await hashPassword('SHA512-CRYPT', 'alice-pw')}\nbob:${await hashPassword('BLF-CRYPT', 'bob-pw', { blfCryptCost: 4 })}\n`,
  );
  const config = defaultConfig();
  config.auth.auth_failure_delay = 200;
  config.auth.auth_penalty_init = 50;
  auth = await AuthService.create(config, data);
  const socketPath = join(data, 'run', 'auth-client');
  const authService = auth;
  server = createServer((s) => serveAuthClient(s, authService));
  server.listen(socketPath);
  await once(server, 'listening');
  await chmod(socketPath, 0o666);
  makeTraversable(join(data, 'run'));

  const certDir = join(dir, 'certs');
  await mkdir(certDir);
  const cert = join(certDir, 'cert.pem');
  const key = join(certDir, 'key.pem');
  await run(findBinary('openssl')!, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost']);
  makeTraversable(certDir);
  await chmod(key, 0o644);

  postfix = await startPostfix({
    dir: join(dir, 'postfix'),
    saslPath: socketPath,
    mynetworks: '192.0.2.0/24', // loopback is not a trusted network here: relaying needs auth
    extraMain: {
      smtpd_tls_cert_file: cert,
      smtpd_tls_key_file: key,
      smtpd_tls_security_level: 'may',
      smtpd_tls_auth_only: 'yes',
      smtpd_sasl_security_options: 'noanonymous',
      smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination',
    },
  });

  let out: Record<string, unknown>;
  try {
    const { stdout } = await run('python3', ['-c', SMTP_CLIENT, String(postfix.smtpPort)], { timeout: 90_000 });
    out = JSON.parse(stdout) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n--- maillog ---\n${postfix.maillog().slice(-4000)}`);
  }
  const context = `client saw ${JSON.stringify(out)}\n--- maillog ---\n${postfix.maillog().slice(-3000)}`;
  assert.equal(out.auth_before_tls, false, `AUTH only after STARTTLS: ${context}`);
  assert.match(String(out.mechanisms), /PLAIN/, context);
  assert.match(String(out.mechanisms), /LOGIN/, context);
  assert.equal(out.relay_without_auth, 554, `relay refused without auth: ${context}`);
  assert.equal(out.plain, 235, `AUTH PLAIN: ${context}`);
  assert.equal(out.relay_after_plain, 250, context);
  assert.equal(out.login, 235, `AUTH LOGIN: ${context}`);
  assert.equal(out.relay_after_login, 250, context);
  assert.equal(out.wrong_password, 535, `wrong password: ${context}`);
  assert.match(String(out.wrong_password_text), /5\.7\.8/, context);
  assert.equal(out.relay_after_failure, 554, context);
  assert.equal(out.unknown_user, 535, context);
});
