import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newClaimId } from '../../src/core/claim-id.js';

describe('claim ids', () => {
  it('sort in the order they were made, also within one millisecond, and never repeat', () => {
    const ids = Array.from({ length: 20_000 }, () => newClaimId());
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} then ${ids[i]}`);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('differ between processes that make them in the same millisecond (random tail)', () => {
    const [a, b] = [newClaimId(), newClaimId()];
    assert.match(a, /^[0-9a-z]{13}-[0-9a-f]{16}$/);
    assert.notEqual(a.slice(-16), b.slice(-16));
  });
});
