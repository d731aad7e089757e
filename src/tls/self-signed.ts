// Generates the self-signed certificate Roost serves when none is configured (node-forge):
// RSA-2048, SANs for the host name, localhost and 127.0.0.1; kept in <data>/certs with the key 0600.
import forge from 'node-forge';
import { existsSync, mkdirSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

function writeDurably(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp${process.pid}`;
  writeFileSync(tmp, data, { mode });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export function generateSelfSigned(hostName: string, days = 825): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01' + forge.util.bytesToHex(forge.random.getBytesSync(15));
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const attrs = [{ name: 'commonName', value: hostName }, { name: 'organizationName', value: 'Roost self-signed' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const altNames: { type: number; value?: string; ip?: string }[] = [{ type: 2, value: hostName }];
  if (hostName !== 'localhost') altNames.push({ type: 2, value: 'localhost' });
  altNames.push({ type: 7, ip: '127.0.0.1' });
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** Returns <data>/certs/{roost.crt,roost.key}, generating them on first use and reusing them later. */
export function ensureSelfSigned(dataDir: string, hostName: string): CertFiles & { generated: boolean } {
  const dir = join(dataDir, 'certs');
  const certFile = join(dir, 'roost.crt');
  const keyFile = join(dir, 'roost.key');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, generated: false };
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const { cert, key } = generateSelfSigned(hostName);
  writeDurably(keyFile, key, 0o600);
  writeDurably(certFile, cert, 0o644);
  return { certFile, keyFile, generated: true };
}
