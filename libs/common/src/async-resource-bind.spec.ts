/* eslint-disable @typescript-eslint/unbound-method -- the test compares and restores AsyncResource#bind itself */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { asyncResourceBindIsCostly, useSharedAsyncResourceAccessor } from './async-resource-bind';

const nodeBind = AsyncResource.prototype.bind;
const accessorOf = (f: unknown) => Object.getOwnPropertyDescriptor(f, 'asyncResource')?.get;

describe('useSharedAsyncResourceAccessor', () => {
  afterAll(() => {
    AsyncResource.prototype.bind = nodeBind;
  });

  it('replaces a bind that builds a deprecated accessor per call by one that shares it (Node 20: two util.deprecate per request)', () => {
    const r = new AsyncResource('test');
    const costly = asyncResourceBindIsCostly();
    expect(costly).toBe(accessorOf(r.bind(() => 1)) !== accessorOf(r.bind(() => 2)));
    useSharedAsyncResourceAccessor();
    expect(accessorOf(r.bind(() => 1))).toBeDefined();
    expect(accessorOf(r.bind(() => 1))).toBe(accessorOf(r.bind(() => 2)));
    expect(asyncResourceBindIsCostly()).toBe(false);
    useSharedAsyncResourceAccessor(); // idempotent
    expect(AsyncResource.prototype.bind).not.toBe(nodeBind);
  });

  it("runs the function in the resource's async scope, with the caller's this or thisArg, arguments and result", () => {
    useSharedAsyncResourceAccessor();
    const als = new AsyncLocalStorage<string>();
    const seen: unknown[] = [];
    function probe(this: unknown, a: number, b: number) {
      seen.push([als.getStore(), this, a, b]);
      return a + b;
    }
    const [bound, boundThis, resource] = als.run('request-1', () => {
      const res = new AsyncResource('test');
      const bindWithThis = res.bind as unknown as (fn: typeof probe, thisArg: unknown) => typeof probe; // @types/node omits thisArg
      return [res.bind(probe), bindWithThis.call(res, probe, 'fixed'), res] as const;
    });
    const holder = { bound };
    expect(als.run('other', () => holder.bound(1, 2))).toBe(3);
    expect(boundThis.call('ignored', 3, 4)).toBe(7);
    expect(seen).toEqual([
      ['request-1', holder, 1, 2],
      ['request-1', 'fixed', 3, 4],
    ]);
    expect(bound.length).toBe(2);
    expect(Object.keys(bound)).toEqual(['asyncResource']);
    process.noDeprecation = true; // the DEP0172 warning would only clutter the test output
    try {
      expect((bound as unknown as { asyncResource: AsyncResource }).asyncResource).toBe(resource);
    } finally {
      process.noDeprecation = false;
    }
    const viaStatic = als.run('request-2', () => AsyncResource.bind(() => als.getStore()));
    expect(viaStatic()).toBe('request-2');
  });

  it("refuses a non-function with Node's own error", () => {
    useSharedAsyncResourceAccessor();
    expect(() => new AsyncResource('test').bind(42 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});
