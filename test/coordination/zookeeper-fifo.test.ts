import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fifo } from '../../src/coordination/zookeeper/fifo.js';

const ids = (f: Fifo<{ id: number }>, n = Infinity): number[] => f.first(n).map((e) => e.id);

function filled(...list: number[]): Fifo<{ id: number }> {
  const f = new Fifo<{ id: number }>();
  for (const id of list) f.push({ id });
  return f;
}

test('a FIFO gives its entries from the head, passing over removed and skipped ones', () => {
  const f = filled(2, 4, 6, 8, 10);
  assert.deepEqual(ids(f, 3), [2, 4, 6]);
  assert.equal(f.remove(4), true);
  assert.equal(f.remove(4), false, 'removed twice');
  assert.equal(f.remove(5), false, 'never there');
  assert.deepEqual(ids(f), [2, 6, 8, 10]);
  assert.equal(f.size, 4);
  assert.equal(f.remove(2), true); // the head moves past 4, removed before
  assert.deepEqual(ids(f, 2), [6, 8]);
  assert.deepEqual(
    f.first(2, (e) => e.id === 6).map((e) => e.id),
    [8, 10],
  );
  assert.equal(f.remove(2), false, 'behind the head');
  for (const id of [10, 6, 8]) assert.equal(f.remove(id), true);
  assert.equal(f.size, 0);
  assert.deepEqual(ids(f), []);
});

test('a FIFO matches a plain array under random removals, across compactions', () => {
  const n = 5000;
  const f = new Fifo<{ id: number }>();
  const model: number[] = [];
  for (let i = 1; i <= n; i++) {
    f.push({ id: i * 2 });
    model.push(i * 2);
  }
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  while (model.length > 0) {
    // mostly near the head, as claims take them, sometimes anywhere
    const at = random() < 0.8 ? Math.floor(random() * Math.min(16, model.length)) : Math.floor(random() * model.length);
    const [id] = model.splice(at, 1);
    assert.equal(f.remove(id!), true);
    assert.equal(f.size, model.length);
    if (model.length % 397 === 0) assert.deepEqual(ids(f), model);
    else assert.deepEqual(ids(f, 5), model.slice(0, 5));
  }
});

test('a FIFO refuses entries out of id order', () => {
  const f = filled(3);
  assert.throws(() => f.push({ id: 3 }), /ascending id order/);
  assert.throws(() => f.push({ id: 1 }), /ascending id order/);
});
