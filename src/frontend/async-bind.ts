import { AsyncResource } from 'node:async_hooks';

/**
 * Node 20's `AsyncResource#bind` defines the deprecated `asyncResource` accessor through two
 * `util.deprecate()` wrappers on every call, which costs 20–100 µs on our machines. Fastify
 * 5.8 binds one per request that has a body (its content-type parser), so a JSON POST such
 * as a claim paid more for it than for its SQLite commit; later Fastify releases no longer
 * bind there. This is the same function without the deprecation wrappers: it runs `fn` in
 * the resource's async scope and still exposes `asyncResource`, as a plain property.
 */
export function installFastAsyncResourceBind(): void {
  const proto = AsyncResource.prototype as AsyncResource & { fastBind?: true };
  if (proto.fastBind) return;
  Object.defineProperty(proto, 'fastBind', { value: true });
  proto.bind = function bind<Func extends (...args: never[]) => unknown>(this: AsyncResource, fn: Func, thisArg?: unknown) {
    const run = this.runInAsyncScope.bind(this) as (fn: Func, thisArg: unknown, ...args: unknown[]) => unknown;
    const bound =
      thisArg === undefined
        ? function (this: unknown, ...args: unknown[]) {
            return run(fn, this, ...args);
          }
        : (...args: unknown[]) => run(fn, thisArg, ...args);
    Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
    Object.defineProperty(bound, 'asyncResource', { configurable: true, enumerable: true, value: this, writable: true });
    return bound as unknown as Func & { asyncResource: AsyncResource };
  };
}
