// Type declarations for libqp (quoted-printable, RFC 2045 section 6.7), which ships none; only what the bench corpus uses.
// encode() returns unwrapped QP text; wrap() breaks it into soft-broken lines of at most lineLength characters.
declare module 'libqp' {
  export function encode(data: Buffer | string): string;
  export function decode(text: string): Buffer;
  export function wrap(text: string, lineLength?: number): string;
  const libqp: { encode: typeof encode; decode: typeof decode; wrap: typeof wrap };
  export default libqp;
}
