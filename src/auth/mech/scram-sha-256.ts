// SCRAM-SHA-256 mechanism (RFC 5802 with RFC 7677's hash): client-first, server-first (nonce, salt,
// iterations), client-final with proof, server-final "v=" signature; no channel binding (gs2 "n" or "y").
import { createHmac, createHash, randomBytes } from 'node:crypto';
import { constantTimeEqual, deriveScramKeys, parseScramCredentials, storedCredentials, type ScramKeys } from '../schemes/index.js';
import { decodeUtf8, type MechanismDefinition } from './types.js';

const DEFAULT_ITERATIONS = 4096;

/** RFC 5802 saslname: "=2C" is ",", "=3D" is "="; any other "=" is an error. */
function decodeSaslName(s: string): string | undefined {
  if (/=(?!2C|3D)/.test(s)) return undefined;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function attributes(text: string): [string, string][] | undefined {
  const out: [string, string][] = [];
  for (const part of text.split(',')) {
    const m = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!m) return undefined;
    out.push([m[1], m[2]]);
  }
  return out;
}

export const scramSha256Mechanism: MechanismDefinition = {
  name: 'SCRAM-SHA-256',
  flags: ['mutual-auth'],
  plaintext: false,
  create(backend, opts) {
    let state: 'first' | 'final' | 'done' = 'first';
    let gs2Header = '';
    let authzid: string | undefined;
    let authcid = '';
    let user = '';
    let clientFirstBare = '';
    let serverFirst = '';
    let nonce = '';
    let keys: ScramKeys | undefined;
    return {
      async step(response) {
        if (state === 'first') {
          if (response === undefined || response.length === 0) return { kind: 'challenge', data: Buffer.alloc(0) };
          const text = decodeUtf8(response);
          // gs2-header = gs2-cbind-flag "," [ authzid ] ","
          const m = text === undefined ? null : /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(text);
          if (!m) return backend.fail('SCRAM: malformed client-first message');
          if (m[1].startsWith('p=')) return backend.fail('SCRAM: channel binding requested but not supported');
          gs2Header = text!.slice(0, text!.length - m[3].length);
          if (m[2]) {
            authzid = decodeSaslName(m[2].slice(2));
            if (authzid === undefined) return backend.fail('SCRAM: malformed authzid');
          }
          clientFirstBare = m[3];
          const attrs = attributes(clientFirstBare);
          if (!attrs || attrs.length < 2 || attrs[0][0] !== 'n' || attrs[1][0] !== 'r' || !attrs[1][1]) return backend.fail('SCRAM: malformed client-first-bare');
          if (attrs.some(([k]) => k === 'm')) return backend.fail('SCRAM: unsupported mandatory extension');
          const name = decodeSaslName(attrs[0][1]);
          if (!name) return backend.fail('SCRAM: malformed user name');
          authcid = name;
          const clientNonce = attrs[1][1];
          const creds = await backend.credentials(authcid, 'SCRAM-SHA-256');
          if (creds.kind === 'failure') return creds.step;
          user = creds.user;
          const plaintext = storedCredentials(creds.stored, 'PLAIN');
          if (plaintext) {
            const salt = opts.scram?.salt ?? randomBytes(16);
            keys = await deriveScramKeys('sha256', plaintext.toString('utf8'), salt, opts.scram?.iterations ?? DEFAULT_ITERATIONS);
          } else {
            const stored = storedCredentials(creds.stored, 'SCRAM-SHA-256');
            keys = stored ? parseScramCredentials('sha256', stored.toString('utf8')) : undefined;
          }
          if (!keys) return backend.fail('SCRAM: passdb holds no usable credentials (needs PLAIN or SCRAM-SHA-256)', authcid);
          nonce = clientNonce + (opts.scram?.nonce ?? randomBytes(18).toString('base64'));
          serverFirst = `r=${nonce},s=${keys.salt.toString('base64')},i=${keys.iterations}`;
          state = 'final';
          return { kind: 'challenge', data: Buffer.from(serverFirst) };
        }
        if (state === 'final' && keys) {
          state = 'done';
          const text = response === undefined ? undefined : decodeUtf8(response);
          const m = text === undefined ? null : /^(c=[^,]*,r=[^,]*(?:,[A-Za-z]=[^,]*)*),p=([A-Za-z0-9+/=]+)$/.exec(text);
          if (!m) return backend.fail('SCRAM: malformed client-final message', authcid);
          const attrs = attributes(m[1])!;
          if (attrs[0][1] !== Buffer.from(gs2Header).toString('base64')) return backend.fail('SCRAM: channel binding data mismatch', authcid);
          if (attrs[1][1] !== nonce) return backend.fail('SCRAM: nonce mismatch', authcid);
          const proof = Buffer.from(m[2], 'base64');
          if (proof.length !== 32) return backend.fail('SCRAM: malformed proof', authcid);
          const authMessage = `${clientFirstBare},${serverFirst},${m[1]}`;
          const clientSignature = createHmac('sha256', keys.storedKey).update(authMessage).digest();
          const clientKey = Buffer.alloc(32);
          for (let i = 0; i < 32; i++) clientKey[i] = proof[i] ^ clientSignature[i];
          if (!constantTimeEqual(createHash('sha256').update(clientKey).digest(), keys.storedKey)) return backend.fail('SCRAM: wrong proof', authcid);
          const serverSignature = createHmac('sha256', keys.serverKey).update(authMessage).digest();
          return backend.succeed(user, authzid, Buffer.from(`v=${serverSignature.toString('base64')}`));
        }
        return backend.fail('SCRAM: unexpected response after the exchange', authcid);
      },
    };
  },
};
