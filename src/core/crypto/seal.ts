import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DistciError } from '../errors.js';
import type { Keyring } from './keyring.js';

export const SEAL_ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A value sealed with AES-256-GCM; binary fields in base64. */
export interface Sealed {
  alg: typeof SEAL_ALGORITHM;
  /** Which key of the keyring sealed it. */
  keyId: string;
  /** 96 random bits, new for every seal: GCM must never reuse an IV under one key. */
  iv: string;
  ciphertext: string;
  tag: string;
}

export type UnsealFailure = 'unknown_key' | 'tampered';

/** A sealed value that cannot be opened: its key is not in the keyring, or it (or its associated data) was altered. */
export class UnsealError extends DistciError {
  constructor(
    readonly reason: UnsealFailure,
    readonly keyId: string,
    message: string,
  ) {
    super('conflict', message, { reason, keyId });
  }
}

/**
 * Seals `plaintext` under the keyring's primary key. `associated` is authenticated but
 * not stored: opening must present the same, so a sealed value moved to another name
 * does not open.
 */
export function seal(keyring: Keyring, plaintext: string, associated: string): Sealed {
  const { id, key } = keyring.primary;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(SEAL_ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associated, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return { alg: SEAL_ALGORITHM, keyId: id, iv: iv.toString('base64'), ciphertext: ciphertext.toString('base64'), tag: cipher.getAuthTag().toString('base64') };
}

/** Opens a sealed value, or throws UnsealError; never returns unauthenticated bytes. */
export function unseal(keyring: Keyring, sealed: Sealed, associated: string): string {
  const key = keyring.get(sealed.keyId);
  if (!key) throw new UnsealError('unknown_key', sealed.keyId, `sealed with key ${sealed.keyId}, which is not among this keyring's keys (${keyring.ids.join(', ')})`);
  const iv = Buffer.from(sealed.iv, 'base64');
  const tag = Buffer.from(sealed.tag, 'base64');
  // A short tag would be accepted by GCM and weaken it: only the full 16 bytes will do.
  if (sealed.alg !== SEAL_ALGORITHM || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new UnsealError('tampered', sealed.keyId, 'the sealed value is malformed (algorithm, IV or tag length)');
  }
  try {
    const decipher = createDecipheriv(SEAL_ALGORITHM, key.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(associated, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new UnsealError('tampered', sealed.keyId, 'the sealed value failed its integrity check: it, its name or its scope was altered');
  }
}
