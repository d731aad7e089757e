// Random salts for password schemes: raw bytes, and crypt(3)-alphabet strings ([./0-9A-Za-z])
// as crypt, PBKDF2 and Dovecot's password_generate_salt() write them.
import { randomBytes, randomInt } from 'node:crypto';

const CRYPT_ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function saltBytes(length: number): Buffer {
  return randomBytes(length);
}

export function cryptSalt(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += CRYPT_ALPHABET[randomInt(CRYPT_ALPHABET.length)];
  return out;
}
