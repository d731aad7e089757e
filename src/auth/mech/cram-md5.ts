// CRAM-MD5 mechanism (RFC 2195): a unique challenge "<random.time@host>", answered with
// "user hex(HMAC-MD5(password, challenge))"; needs the plaintext or Dovecot's CRAM-MD5 context in the passdb.
import { randomBytes } from 'node:crypto';
import { hostname as systemHostname } from 'node:os';
import { constantTimeEqual, hmacMd5, hmacMd5FromContext, storedCredentials } from '../schemes/index.js';
import { decodeUtf8, type MechanismDefinition } from './types.js';

export const cramMd5Mechanism: MechanismDefinition = {
  name: 'CRAM-MD5',
  flags: ['dictionary', 'active'],
  plaintext: false,
  create(backend, opts) {
    let challenge: Buffer | undefined;
    return {
      async step(response) {
        if (!challenge) {
          if (response !== undefined && response.length > 0) return backend.fail('CRAM-MD5: unexpected initial response');
          challenge = Buffer.from(`<${randomBytes(8).readBigUInt64BE()}.${Math.floor(Date.now() / 1000)}@${opts.hostname || systemHostname()}>`);
          return { kind: 'challenge', data: challenge };
        }
        const text = response === undefined ? undefined : decodeUtf8(response);
        const m = text === undefined ? null : /^(.+) ([0-9a-fA-F]{32})$/.exec(text);
        if (!m) return backend.fail('CRAM-MD5: malformed response');
        const [, user, digestHex] = m;
        const creds = await backend.credentials(user, 'CRAM-MD5');
        if (creds.kind === 'failure') return creds.step;
        const plaintext = storedCredentials(creds.stored, 'PLAIN');
        const context = plaintext ? undefined : storedCredentials(creds.stored, 'CRAM-MD5');
        let expected: Buffer;
        if (plaintext) expected = hmacMd5(plaintext.toString('utf8'), challenge);
        else if (context) expected = hmacMd5FromContext(context, challenge);
        else return backend.fail('CRAM-MD5: passdb holds no usable credentials (needs PLAIN or CRAM-MD5)', user);
        if (!constantTimeEqual(expected, Buffer.from(digestHex.toLowerCase(), 'hex'))) return backend.fail('CRAM-MD5: wrong digest', user);
        return backend.succeed(creds.user, undefined);
      },
    };
  },
};
