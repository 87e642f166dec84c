// Nest CLI webpack hook: keep node_modules external (native better-sqlite3, grpc-js) and
// emit one bundle per app under dist/apps/<app>/main.js.
const nodeExternals = require('webpack-node-externals');
module.exports = (options) => ({
  ...options,
  // tongban-sm2 (native/sm2) by name too: a checkout whose node_modules lacks its link still builds,
  // and the gateway then falls back to OpenSSL for SM2 (libs/gm sm2-native.ts).
  externals: [nodeExternals(), { 'tongban-sm2': 'commonjs tongban-sm2' }],
  devtool: 'source-map',
  optimization: { ...(options.optimization || {}), minimize: false },
});
