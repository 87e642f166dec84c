#!/usr/bin/env node
'use strict';
// `npm test`: checks generated proto types are current, lints (tsc, layers, Prettier, ESLint), builds
// the apps (e2e suites start the built gateway), then runs every jest tier: unit, integration
// (SQLite + PostgreSQL) and e2e.
const { execSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: ROOT, stdio: 'inherit' });

try {
  run('node scripts/check-proto.js');
  run('npm run --silent lint');
  // ESLint (typescript-eslint with type information: floating promises, unsafe any), no warnings allowed.
  run('npm run --silent lint:eslint');
  run('node scripts/check-deploy.js');
  // Expand/contract: new migrations keep the schema the previous release runs on (docs/operations.md §9.1).
  run('node scripts/check-migrations.js');
  run('npm run --silent build');
  run(`npx jest --ci ${process.argv.slice(2).join(' ')}`);
  // A short randomised soak with kills and restarts, reconciled at the end (see docs/performance.md).
  if (!process.argv.slice(2).length) run('SOAK_QUICK=1 node scripts/soak/cases-soak.js');
} catch (e) {
  process.exit(e.status || 1);
}
