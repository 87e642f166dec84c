'use strict';
// Loads the compiled addon (build/Release/tongban_sm2.node, from `node-gyp rebuild` at npm ci).
// Null-safe: when the addon was not built, `sm2` is null and `loadError` says why, so that callers
// fall back to OpenSSL (libs/gm sm2-native.ts decides, and TONGBAN_SM2_NATIVE=required refuses that).
let sm2 = null;
let loadError = null;
try {
  sm2 = require('./build/Release/tongban_sm2.node');
} catch (e) {
  loadError = e instanceof Error ? e : new Error(String(e));
}
module.exports = { sm2, loadError };
