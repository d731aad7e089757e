// The table of SASL mechanisms the auth service offers, with Dovecot's security flags for the
// auth socket's MECH lines. XOAUTH2 and OAUTHBEARER (RFC 7628) slot in here once a token passdb exists.
import { cramMd5Mechanism } from './cram-md5.js';
import { loginMechanism } from './login.js';
import { plainMechanism } from './plain.js';
import { scramSha256Mechanism } from './scram-sha-256.js';
import type { MechanismDefinition } from './types.js';

export type { MechanismDefinition, MechanismFlag, MechanismBackend, MechanismOptions, MechanismSession } from './types.js';

export const MECHANISMS: ReadonlyMap<string, MechanismDefinition> = new Map(
  [plainMechanism, loginMechanism, cramMd5Mechanism, scramSha256Mechanism].map((m) => [m.name, m]),
);

export function findMechanism(name: string): MechanismDefinition | undefined {
  return MECHANISMS.get(name.toUpperCase());
}
