// Which names a server certificate must carry at smtp_tls_security_level verify (the MX or relayhost host name) and
// secure (the next-hop domain or a name below it), as Postfix's smtp_tls_verify_cert_match and secure_cert_match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchPeer, peerNames, TlsPolicyMap } from '../../../src/mta/tls-policy.js';

const cert = (san: string, cn = 'unused') => ({ subjectaltname: san, subject: { CN: cn } }) as unknown as PeerCertificate;

test('verify matches the hop host name; secure the next hop and names below it', () => {
  assert.deepEqual(peerNames('verify', 'mx1.example.com.', 'example.com'), ['mx1.example.com']);
  assert.deepEqual(peerNames('secure', 'mx1.mail-host.net', 'Example.com'), ['example.com', '.example.com']);
  assert.deepEqual(peerNames('secure', '127.0.0.1', '[127.0.0.1]'), ['127.0.0.1']);
});

test('certificate names against the expected ones', () => {
  assert.equal(matchPeer(['mx1.example.com'], cert('DNS:mx1.example.com')), undefined);
  assert.equal(matchPeer(['mx1.example.com'], cert('DNS:*.example.com')), undefined, 'a wildcard covers one label');
  assert.ok(matchPeer(['mx1.example.com'], cert('DNS:mx2.example.com')));
  assert.equal(matchPeer(['example.com', '.example.com'], cert('DNS:mx.example.com')), undefined, 'secure: below the next hop');
  assert.ok(matchPeer(['example.com', '.example.com'], cert('DNS:mx.example.com.evil.net')));
  assert.ok(matchPeer(['example.com', '.example.com'], cert('DNS:notexample.com')));
  assert.equal(matchPeer(['127.0.0.1'], cert('DNS:x.example, IP Address:127.0.0.1')), undefined);
  assert.equal(matchPeer(['.example.com'], cert('', 'mx.example.com')), undefined, 'the CN when there is no DNS name');
});

test('smtp_tls_policy_maps: exact next hop first, then .parent domains; [host]:port for a next hop without MX lookup', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'roost-tls-policy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tls_policy');
  writeFileSync(file, 'example.com secure\n.example.com verify\n[relay.example.net]:587 encrypt\nbad.example sometimes\n');
  const map = new TlsPolicyMap(file);
  assert.equal(map.lookup('example.com', 25, true), 'secure');
  assert.equal(map.lookup('sub.example.com', 25, true), 'verify');
  assert.equal(map.lookup('relay.example.net', 587, false), 'encrypt');
  assert.equal(map.lookup('relay.example.net', 25, false), undefined);
  assert.equal(map.lookup('other.org', 25, true), undefined);
  assert.deepEqual(map.lookup('bad.example', 25, true), { error: 'smtp_tls_policy_maps: bad level "sometimes" for bad.example' });
});
