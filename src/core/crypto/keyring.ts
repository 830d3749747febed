import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.js';

/** AES-256 keys are 32 bytes. */
export const KEY_BYTES = 32;

export interface SecretKey {
  /** Derived from the key itself, so every frontend given the same key names it alike. */
  readonly id: string;
  readonly key: Buffer;
}

/**
 * The keys a frontend holds for sealing secrets. The first (primary) seals every new
 * value; all of them open values sealed earlier, which is what makes rotation possible:
 * add the new key, make it primary, re-seal, then drop the old one.
 */
export class Keyring {
  readonly primary: SecretKey;
  private readonly byId = new Map<string, SecretKey>();

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new ValidationError('a keyring needs at least one key');
    for (const [i, key] of keys.entries()) {
      if (key.length !== KEY_BYTES) throw new ValidationError(`key ${i + 1} is ${key.length} bytes; each key must be ${KEY_BYTES} bytes`);
      const id = keyId(key);
      if (!this.byId.has(id)) this.byId.set(id, { id, key: Buffer.from(key) });
    }
    this.primary = this.byId.get(keyId(keys[0]!))!;
  }

  get(id: string): SecretKey | undefined {
    return this.byId.get(id);
  }

  /** Key ids, the primary first. */
  get ids(): string[] {
    return [...this.byId.keys()];
  }
}

/** A short public name of a key: a hash, from which the key cannot be recovered. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('distci secrets key id\0').update(key).digest('hex').slice(0, 16);
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Keys written as base64 (standard or URL-safe), separated by commas, spaces or new
 * lines; lines starting with `#` are comments. The first key is the primary. Errors name
 * the key by position, never by its text.
 */
export function parseKeys(text: string): Keyring {
  const words = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n')
    .split(/[\s,]+/)
    .filter(Boolean);
  if (words.length === 0) throw new ValidationError(`no key found; a key is ${KEY_BYTES} random bytes in base64, e.g. from: head -c ${KEY_BYTES} /dev/urandom | base64`);
  const keys = words.map((word, i) => {
    const bytes = BASE64.test(word) ? Buffer.from(word, word.includes('-') || word.includes('_') ? 'base64url' : 'base64') : null;
    if (!bytes || bytes.length !== KEY_BYTES) {
      throw new ValidationError(
        `key ${i + 1} is not ${KEY_BYTES} bytes of base64${bytes ? ` (it decodes to ${bytes.length} bytes)` : ''}; make one with: head -c ${KEY_BYTES} /dev/urandom | base64`,
      );
    }
    return bytes;
  });
  return new Keyring(keys);
}
