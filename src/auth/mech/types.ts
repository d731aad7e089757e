// What a server-side SASL mechanism sees of the auth service: verify a password, fetch credentials,
// finish a login. Mechanisms are pure state machines over this interface (Dovecot's lib-sasl split).
import type { SaslStep } from '../types.js';

/** Dovecot's mechanism security flags, as sent on the auth socket's MECH lines. */
export type MechanismFlag = 'anonymous' | 'plaintext' | 'dictionary' | 'active' | 'forward-secrecy' | 'mutual-auth' | 'private';

export type CredentialsKind = 'CRAM-MD5' | 'SCRAM-SHA-256' | 'APOP';

export type CredentialsAnswer =
  | { kind: 'ok'; user: string; /** the stored password string ({SCHEME}...) */ stored: string }
  | { kind: 'failure'; step: SaslStep };

export interface MechanismBackend {
  /** Checks a password and logs in as authzid (when given and different) or authcid. */
  verifyPlain(authcid: string, password: string, authzid: string | undefined): Promise<SaslStep>;
  /** The stored password of a user, for mechanisms that compute proofs themselves. */
  credentials(authcid: string, kind: CredentialsKind): Promise<CredentialsAnswer>;
  /** Completes a login after the mechanism proved the credentials. */
  succeed(authcid: string, authzid: string | undefined, data?: Buffer): Promise<SaslStep>;
  /** A (delayed) failure, e.g. for a malformed response or a wrong proof. */
  fail(reason: string, authcid?: string): Promise<SaslStep>;
}

export interface MechanismOptions {
  /** Host name for the CRAM-MD5 challenge. */
  hostname?: string;
  /** Fixed SCRAM parameters (RFC 7677 test vectors); random salt and nonce otherwise. */
  scram?: { nonce?: string; salt?: Buffer; iterations?: number };
}

export interface MechanismSession {
  /** One client response (undefined: none yet, e.g. no initial response) to the next step. */
  step(response: Buffer | undefined): Promise<SaslStep>;
}

export interface MechanismDefinition {
  /** Upper-case SASL name. */
  readonly name: string;
  readonly flags: readonly MechanismFlag[];
  /** Sends the password in the clear: only offered on secured connections. */
  readonly plaintext: boolean;
  create(backend: MechanismBackend, opts: MechanismOptions): MechanismSession;
}

/** Strict UTF-8 decoding: undefined for invalid sequences. */
export function decodeUtf8(buf: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return undefined;
  }
}
