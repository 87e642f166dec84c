// Nest CLI webpack hook: keep node_modules external (native better-sqlite3, grpc-js) and
// emit one bundle per app under dist/apps/<app>/main.js.
const nodeExternals = require('webpack-node-externals');
module.exports = (options) => ({
  ...options,
  externals: [nodeExternals()],
  devtool: 'source-map',
  optimization: { ...(options.optimization || {}), minimize: false },
});
