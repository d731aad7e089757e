// Outbound STARTTLS verification through the real daemon: SMTP sinks with STARTTLS (smtp-server) as transport_maps
// next hops; verify with the right CA delivers, a wrong CA or a wrong name defers 4.7.5, may delivers regardless
// (unless smtp_tls_policy_maps sets verify for that next hop).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import forge from 'node-forge';
import { SMTPServer } from 'smtp-server';
import { startRoost, type RoostHandle } from '../helpers/roost.js';
import { runPython } from '../helpers/python.js';
import { waitFor } from '../helpers/wait-for.js';

/** A self-signed certificate (its own CA) for the given subjectAltNames. */
function makeCertificate(cn: string, altNames: { type: number; value?: string; ip?: string }[]): { cert: string; key: string } {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(pair.publicKey);
  cert.serialNumber = '01' + randomBytes(15).toString('hex');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const attrs = [{ name: 'commonName', value: cn }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(pair.privateKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: pair.privateKey };
}

/** An SMTP server offering STARTTLS with the given certificate; records what it received and whether over TLS. */
async function startTlsSink(pair: { cert: string; key: string }) {
  const received: { to: string[]; secure: boolean }[] = [];
  const server = new SMTPServer({
    key: pair.key,
    cert: pair.cert,
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      stream.resume();
      stream.on('end', () => {
        received.push({ to: session.envelope.rcptTo.map((r) => r.address), secure: session.secure });
        cb();
      });
    },
  });
  server.on('error', () => undefined); // a client that drops the handshake (certificate refused) is expected
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.server.address() as AddressInfo).port, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const SEND = `
import smtplib, sys, json
c = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example.org')
c.sendmail('alice@roost.test', json.loads(sys.argv[2]), b'From: alice@roost.test\\r\\nSubject: tls\\r\\n\\r\\nbody\\r\\n')
c.quit()
print('ok')
`;


type Sink = Awaited<ReturnType<typeof startTlsSink>>;
let base: string;
let right: Sink;
let wrongCa: Sink;
let wrongName: Sink;

/** A daemon at this security level routing ok.example, wrongca.example and wrongname.example to the three sinks. */
async function daemon(level: string, caFile: string): Promise<RoostHandle> {
  const dataDir = join(base, level);
  mkdirSync(dataDir);
  writeFileSync(
    join(dataDir, 'transport'),
    [`ok.example smtp:[127.0.0.1]:${right.port}`, `wrongca.example smtp:[127.0.0.1]:${wrongCa.port}`, `wrongname.example smtp:[127.0.0.1]:${wrongName.port}`].join('\n') + '\n',
  );
  return startRoost({
    dataDir,
    users: [{ name: 'alice', password: 'a' }],
    configToml: ['[smtp]', `smtp_tls_security_level = "${level}"`, `smtp_tls_CAfile = "${caFile}"`, 'transport_maps = "transport"', 'smtp_tls_policy_maps = "tls_policy"', 'minimal_backoff_time = "1h"'].join('\n'),
  });
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'roost-tls-verify-'));
  const sinkCert = makeCertificate('sink', [{ type: 2, value: 'sink.example' }, { type: 7, ip: '127.0.0.1' }]);
  const otherCa = makeCertificate('sink', [{ type: 2, value: 'sink.example' }, { type: 7, ip: '127.0.0.1' }]);
  const elsewhere = makeCertificate('elsewhere', [{ type: 2, value: 'elsewhere.example' }]);
  // Trusted: the right sink's certificate and the wrong-name one (so only its name fails), not otherCa.
  writeFileSync(join(base, 'ca.pem'), sinkCert.cert + elsewhere.cert);
  right = await startTlsSink(sinkCert);
  wrongCa = await startTlsSink(otherCa);
  wrongName = await startTlsSink(elsewhere);
});

after(async () => {
  await right?.close();
  await wrongCa?.close();
  await wrongName?.close();
  rmSync(base, { recursive: true, force: true });
});

test('verify: the right CA and name deliver over TLS; a wrong CA or a wrong name defers with 4.7.5 and says why', async () => {
  const roost = await daemon('verify', join(base, 'ca.pem'));
  try {
    assert.equal((await runPython(SEND, [roost.ports.smtp, JSON.stringify(['u@ok.example', 'u@wrongca.example', 'u@wrongname.example'])])).trim(), 'ok');
    const delivered = await waitFor('delivery to the verified sink', () => right.received.find((m) => m.to.includes('u@ok.example')));
    assert.equal(delivered.secure, true);
    const caLine = await roost.waitForLog((l) => l.includes('to=<u@wrongca.example>') && l.includes('status=deferred'), 30_000);
    assert.match(caLine, /dsn=4\.7\.5/);
    assert.match(caLine, /Server certificate not verified/);
    const nameLine = await roost.waitForLog((l) => l.includes('to=<u@wrongname.example>') && l.includes('status=deferred'), 30_000);
    assert.match(nameLine, /dsn=4\.7\.5/);
    assert.match(nameLine, /do not match 127\.0\.0\.1/);
    assert.equal(wrongCa.received.length + wrongName.received.length, 0, 'nothing went to an unverified server');
  } finally {
    await roost.stop();
  }
});

test('may: opportunistic TLS delivers whatever the certificate, unless smtp_tls_policy_maps says verify for the next hop', async () => {
  const roost = await daemon('may', join(base, 'ca.pem'));
  try {
    assert.equal((await runPython(SEND, [roost.ports.smtp, JSON.stringify(['m@wrongca.example', 'm@wrongname.example'])])).trim(), 'ok');
    const a = await waitFor('delivery despite a wrong CA', () => wrongCa.received.find((m) => m.to.includes('m@wrongca.example')));
    const b = await waitFor('delivery despite a wrong name', () => wrongName.received.find((m) => m.to.includes('m@wrongname.example')));
    assert.ok(a.secure && b.secure, 'still encrypted');
    // smtp_tls_policy_maps raises one next hop to verify: the same server is then refused.
    writeFileSync(join(roost.dataDir, 'tls_policy'), `[127.0.0.1]:${wrongCa.port} verify\n`);
    assert.equal((await runPython(SEND, [roost.ports.smtp, JSON.stringify(['p@wrongca.example'])])).trim(), 'ok');
    const line = await roost.waitForLog((l) => l.includes('to=<p@wrongca.example>') && l.includes('status=deferred'), 30_000);
    assert.match(line, /dsn=4\.7\.5.*Server certificate not verified/);
    assert.ok(!wrongCa.received.some((m) => m.to.includes('p@wrongca.example')));
  } finally {
    await roost.stop();
  }
});
