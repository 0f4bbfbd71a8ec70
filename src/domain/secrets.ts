import { createHash, randomBytes } from 'node:crypto';

/** Keys and refresh tokens carry 160 random bits, so a fast hash is enough to store them safely. */
export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: no I, L, O, U.

/** 32 base32 characters from 20 random bytes: 160 bits. */
export function randomBase32(bytes = 20): string {
  const data = randomBytes(bytes);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');
