// Type declarations for the parts of libmime (RFC 2047 encoded words) that Roost's MIME model uses.
// libmime ships no types; only decodeWords is declared.
declare module 'libmime' {
  const libmime: { decodeWords(value: string): string };
  export default libmime;
}
