// The shape of one password scheme (Dovecot's password_scheme): verify and generate on raw bytes,
// with the {SCHEME.ENC} prefix, encodings and bare crypt strings handled once in schemes/index.ts.

/** How a scheme's raw bytes are written after the {SCHEME} prefix when no .B64/.HEX suffix is given. */
export type SchemeEncoding = 'none' | 'base64' | 'hex';

export interface GenerateOptions {
  /** bcrypt cost, crypt rounds, PBKDF2/SCRAM iterations, argon2 time cost. */
  rounds?: number;
  /** Fixed salt (tests and reproducible output only). */
  salt?: Buffer;
}

export interface PasswordScheme {
  /** Canonical upper-case name as Dovecot writes it. */
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly defaultEncoding: SchemeEncoding;
  /** Exact raw length when the scheme has one (lets Dovecot-style hex/base64 auto-detection work). */
  readonly rawLength?: number;
  /** True for schemes that keep the plaintext recoverable (PLAIN): any mechanism can use them. */
  readonly reversible?: boolean;
  verify(password: string, raw: Buffer): Promise<boolean>;
  generate(password: string, opts: GenerateOptions): Promise<Buffer>;
}
