'use strict';
// Lets a plain-Node script require the TypeScript libs as they are (no build step): @tongban/* →
// libs/*/src/index.ts, and any .ts file, compiled on load by swc (as jest does). Benchmarks use it to
// measure the code of the working tree.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { transformSync } = require('@swc/core');

const ROOT = path.resolve(__dirname, '..', '..');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const m = /^@tongban\/([a-z-]+)$/.exec(request);
  return resolve.call(this, m ? path.join(ROOT, 'libs', m[1], 'src', 'index.ts') : request, ...rest);
};
require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

module.exports = { ROOT };
