import assert from 'node:assert/strict';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { describe, it } from 'node:test';
import { installFastAsyncResourceBind } from '../../src/frontend/async-bind.js';

describe('AsyncResource#bind without the deprecation wrappers', () => {
  installFastAsyncResourceBind();
  const als = new AsyncLocalStorage<string>();

  it('runs the bound function in the async context it was bound in, with its this and arguments', () => {
    const resource = als.run('at-bind', () => new AsyncResource('test'));
    const bound = resource.bind(function (this: { n: number } | undefined, a: number, b: number) {
      return { store: als.getStore(), sum: a + b + (this?.n ?? 0) };
    });
    const seen = als.run('at-call', () => bound.call({ n: 10 }, 1, 2));
    assert.deepEqual(seen, { store: 'at-bind', sum: 13 });
    assert.equal(bound.length, 2);
    assert.equal((bound as unknown as { asyncResource: unknown }).asyncResource, resource);
  });

  it('binds thisArg when given', () => {
    const resource = new AsyncResource('test');
    const self = { n: 5 };
    // @types/node omits bind's thisArg, which Node (and Fastify) use.
    const bindWithThis = resource.bind.bind(resource) as (fn: (this: { n: number }) => number, thisArg: unknown) => (this: unknown) => number;
    const bound = bindWithThis(function (this: { n: number }) {
      return this.n;
    }, self);
    assert.equal(bound.call({ n: 99 }), 5);
  });
});
