// PLAIN mechanism (RFC 4616): one message "[authzid] NUL authcid NUL passwd", as the initial
// response or after an empty challenge; authzid selects the user to log in as (master users).
import { decodeUtf8, type MechanismDefinition } from './types.js';

export const plainMechanism: MechanismDefinition = {
  name: 'PLAIN',
  flags: ['plaintext'],
  plaintext: true,
  create(backend) {
    let asked = false;
    return {
      async step(response) {
        if (response === undefined) {
          if (asked) return backend.fail('PLAIN: no response');
          asked = true;
          return { kind: 'challenge', data: Buffer.alloc(0) };
        }
        const text = decodeUtf8(response);
        const parts = text?.split('\0');
        if (!parts || parts.length !== 3) return backend.fail('PLAIN: malformed message');
        const [authzid, authcid, password] = parts;
        if (!authcid) return backend.fail('PLAIN: empty authentication identity');
        return backend.verifyPlain(authcid, password, authzid || undefined);
      },
    };
  },
};
