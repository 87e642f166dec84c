/* eslint-disable @typescript-eslint/unbound-method -- this file reads and replaces AsyncResource#bind itself */
import { AsyncResource } from 'node:async_hooks';
import { deprecate } from 'node:util';

const MESSAGE = 'The asyncResource property on bound functions is deprecated';
const RESOURCE = Symbol('tongban.asyncResource');

type AnyFn = (...args: unknown[]) => unknown;
type Bound = AnyFn & { [RESOURCE]?: unknown };

// One deprecated accessor pair for every bound function. Node 20's bind builds two with
// util.deprecate on each call (and deprecate re-parents each wrapper with Object.setPrototypeOf),
// which made the bind ≈ 10× the rest of it; Node 24 fixed the same cost (nodejs/node#58218, #59195).
const getResource = deprecate(
  function (this: Bound) {
    return this[RESOURCE];
  },
  MESSAGE,
  'DEP0172',
);
const setResource = deprecate(
  function (this: Bound, value: unknown) {
    this[RESOURCE] = value;
  },
  MESSAGE,
  'DEP0172',
);

const ACCESSOR: PropertyDescriptor = { configurable: true, enumerable: true, get: getResource, set: setResource };

let installed = false;

function withCallerThis(resource: AsyncResource, fn: AnyFn): Bound {
  return function (this: unknown, ...args: unknown[]) {
    return resource.runInAsyncScope(fn, this, ...args);
  };
}

/** Whether this Node's AsyncResource#bind builds a fresh deprecated accessor per call (Node ≤ 22). */
export function asyncResourceBindIsCostly(): boolean {
  const bind = AsyncResource.prototype.bind;
  const resource = new AsyncResource('tongban.probe');
  const accessor = () =>
    Object.getOwnPropertyDescriptor(
      bind.call(resource, () => undefined),
      'asyncResource',
    )?.get;
  const one = accessor();
  const two = accessor();
  resource.emitDestroy();
  return one !== undefined && one !== two;
}

/**
 * Replaces AsyncResource#bind, process-wide, by one that behaves the same (runs `fn` in the
 * resource's async scope with the caller's `this` or `thisArg`, keeps `length` and the deprecated
 * `asyncResource` property, DEP0172 warning included) but shares one accessor pair instead of
 * calling util.deprecate twice per bind. Fastify's content-type parser and http2's client request
 * bind once per request each. Does nothing where Node's own bind is already cheap. Idempotent.
 */
export function useSharedAsyncResourceAccessor(): void {
  if (installed || !asyncResourceBindIsCostly()) return;
  installed = true;
  const nodeBind = AsyncResource.prototype.bind as (this: AsyncResource, fn: AnyFn, thisArg?: unknown) => AnyFn;
  function bind(this: AsyncResource, fn: AnyFn, thisArg?: unknown): AnyFn {
    if (typeof fn !== 'function') return nodeBind.call(this, fn, thisArg); // Node's own error
    const bound: Bound = thisArg === undefined ? withCallerThis(this, fn) : this.runInAsyncScope.bind(this, fn, thisArg);
    // Each property defined on a function costs ≈ 1 µs: `length` only when it differs (http2's
    // callback has none), the accessor from one shared descriptor, the resource by plain assignment.
    if (bound.length !== fn.length) Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, value: fn.length, writable: false });
    Object.defineProperty(bound, 'asyncResource', ACCESSOR);
    bound[RESOURCE] = this;
    return bound;
  }
  AsyncResource.prototype.bind = bind as typeof AsyncResource.prototype.bind;
}
