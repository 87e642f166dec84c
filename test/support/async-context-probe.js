'use strict';
// Preloaded into gateway processes (NODE_OPTIONS=--require …) by test/async-context.e2e-spec.ts:
// writes one line to stderr each time any AsyncLocalStorage is entered, naming the caller, so the
// test can tell whether serving a request turned on Node's async hooks.
const { AsyncLocalStorage } = require('node:async_hooks');

const MARK = 'ASYNC-CONTEXT-ENTERED';
const caller = () =>
  (new Error().stack || '')
    .split('\n')
    .slice(3)
    .find((l) => !l.includes('node:internal') && !l.includes('async-context-probe')) || '?';
for (const name of ['run', 'enterWith']) {
  const original = AsyncLocalStorage.prototype[name];
  AsyncLocalStorage.prototype[name] = function probed(...args) {
    process.stderr.write(`${MARK} ${name} ${caller().trim()}\n`);
    return original.apply(this, args);
  };
}
