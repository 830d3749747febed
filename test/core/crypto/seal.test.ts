import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Keyring, keyId, parseKeys } from '../../../src/core/crypto/keyring.js';
import { seal, unseal, UnsealError, type Sealed } from '../../../src/core/crypto/seal.js';

const VALUE = 'hunter2-correct-horse-battery-staple';
const refused = (reason: string) => (err: unknown) => {
  assert.ok(err instanceof UnsealError, String(err));
  assert.equal(err.reason, reason);
  assert.doesNotMatch(err.message, new RegExp(VALUE));
  return true;
};
/** Flips one bit of a base64 field. */
function flip(b64: string, byte = 0): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[byte] = bytes[byte]! ^ 1;
  return bytes.toString('base64');
}

describe('sealing secrets with AES-256-GCM', () => {
  const key = randomBytes(32);
  const ring = new Keyring([key]);

  it('opens what it sealed, and the sealed form holds neither the value nor its base64', () => {
    const sealed = seal(ring, VALUE, 'DEPLOY_TOKEN');
    assert.equal(unseal(ring, sealed, 'DEPLOY_TOKEN'), VALUE);
    const stored = JSON.stringify(sealed);
    assert.ok(!stored.includes(VALUE));
    assert.ok(!stored.includes(Buffer.from(VALUE).toString('base64').slice(0, 20)));
    assert.equal(sealed.keyId, keyId(key));
    assert.equal(Buffer.from(sealed.iv, 'base64').length, 12);
  });

  it('uses a fresh IV for every seal, so the same value never seals alike', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const sealed = seal(ring, VALUE, 'X');
      assert.ok(!seen.has(sealed.iv), 'IV reused');
      seen.add(sealed.iv);
    }
  });

  const cases: [string, (s: Sealed) => Sealed][] = [
    ['a flipped ciphertext bit', (s) => ({ ...s, ciphertext: flip(s.ciphertext, 3) })],
    ['a flipped tag bit', (s) => ({ ...s, tag: flip(s.tag) })],
    ['a flipped IV bit', (s) => ({ ...s, iv: flip(s.iv) })],
    ['a truncated tag', (s) => ({ ...s, tag: Buffer.from(s.tag, 'base64').subarray(0, 12).toString('base64') })],
    ['another algorithm named', (s) => ({ ...s, alg: 'aes-128-gcm' as unknown as Sealed['alg'] })],
  ];
  for (const [what, tamper] of cases) {
    it(`refuses ${what}`, () => {
      assert.throws(() => unseal(ring, tamper(seal(ring, VALUE, 'X')), 'X'), refused('tampered'));
    });
  }

  it('refuses a sealed value presented under another name (associated data)', () => {
    assert.throws(() => unseal(ring, seal(ring, VALUE, 'TEAM_B_TOKEN'), 'TEAM_A_TOKEN'), refused('tampered'));
  });

  it('refuses a value sealed with a key it does not hold, naming the key id', () => {
    const other = new Keyring([randomBytes(32)]);
    const sealed = seal(other, VALUE, 'X');
    assert.throws(() => unseal(ring, sealed, 'X'), refused('unknown_key'));
  });

  it('seals with the first key and opens with any of them', () => {
    const older = randomBytes(32);
    const newer = randomBytes(32);
    const before = seal(new Keyring([older]), VALUE, 'X');
    const both = new Keyring([newer, older]);
    const after = seal(both, VALUE, 'X');
    assert.equal(after.keyId, keyId(newer));
    assert.equal(unseal(both, before, 'X'), VALUE);
    assert.equal(unseal(new Keyring([newer]), after, 'X'), VALUE);
    assert.throws(() => unseal(new Keyring([newer]), before, 'X'), refused('unknown_key'));
  });
});

describe('secrets keys as configured', () => {
  it('reads base64 keys separated by commas or lines, skipping comments, the first as primary', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const ring = parseKeys(`# newest first\n${a.toString('base64')}\n\n${b.toString('base64url')}\n`);
    assert.deepEqual(ring.ids, [keyId(a), keyId(b)]);
    assert.equal(ring.primary.id, keyId(a));
    assert.deepEqual(parseKeys(`${a.toString('base64')},${b.toString('base64')}`).ids, ring.ids);
  });

  it('refuses a key of the wrong length or not base64, without repeating it', () => {
    const short = randomBytes(24).toString('base64');
    assert.throws(() => parseKeys(short), (err: Error) => /key 1 is not 32 bytes of base64 \(it decodes to 24 bytes\)/.test(err.message) && !err.message.includes(short));
    const good = randomBytes(32).toString('base64');
    assert.throws(() => parseKeys(`${good}\nnot*base64`), (err: Error) => /key 2 is not 32 bytes/.test(err.message) && !err.message.includes(good));
    assert.throws(() => parseKeys('# only a comment\n'), /no key found/);
  });
});
