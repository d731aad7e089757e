// LOGIN mechanism (draft-murchison-sasl-login): "Username:" and "Password:" challenges; an initial
// response, when a client sends one, is the user name.
import { decodeUtf8, type MechanismDefinition } from './types.js';

export const loginMechanism: MechanismDefinition = {
  name: 'LOGIN',
  flags: ['plaintext'],
  plaintext: true,
  create(backend) {
    let user: string | undefined;
    let started = false;
    return {
      async step(response) {
        if (!started) {
          started = true;
          if (response === undefined || response.length === 0) return { kind: 'challenge', data: Buffer.from('Username:') };
        }
        if (user === undefined) {
          const name = response === undefined ? undefined : decodeUtf8(response);
          if (!name || name.includes('\0')) return backend.fail('LOGIN: invalid user name');
          user = name;
          return { kind: 'challenge', data: Buffer.from('Password:') };
        }
        const password = response === undefined ? undefined : decodeUtf8(response);
        if (password === undefined) return backend.fail('LOGIN: invalid password encoding', user);
        return backend.verifyPlain(user, password, undefined);
      },
    };
  },
};
