#!/usr/bin/env node
'use strict';
// Lints the protos (buf STANDARD), checks for breaking changes against the last commit, and
// regenerates the TypeScript types into a temp folder to fail when the committed ones are stale.
const { execSync } = require('node:child_process');
const { mkdtempSync, readFileSync, readdirSync, statSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const sh = (cmd, opts = {}) => execSync(cmd, { cwd: ROOT, stdio: 'pipe', ...opts }).toString();

sh('npx buf lint');
try {
  const head = sh('git rev-parse --verify --quiet HEAD').trim();
  if (head && sh('git ls-tree -r --name-only HEAD proto').trim()) sh(`npx buf breaking --against '.git#ref=HEAD'`);
} catch (e) {
  const out = (e.stdout || '').toString() + (e.stderr || '').toString();
  if (out.trim()) {
    console.error(`proto breaking-change check failed:\n${out}`);
    process.exit(1);
  }
}
const out = mkdtempSync(path.join(tmpdir(), 'tongban-proto-'));
sh(`npx buf generate -o ${out}`);
const committed = path.join(ROOT, 'libs', 'proto', 'src', 'generated');
const fresh = path.join(out, 'libs', 'proto', 'src', 'generated');
const files = (dir) =>
  readdirSync(dir, { recursive: true })
    .filter((f) => statSync(path.join(dir, f)).isFile())
    .sort();
const a = files(committed);
const b = files(fresh);
const stale = JSON.stringify(a) !== JSON.stringify(b) || a.some((f) => readFileSync(path.join(committed, f), 'utf8') !== readFileSync(path.join(fresh, f), 'utf8'));
if (stale) {
  console.error('libs/proto/src/generated is stale: run `npm run proto:gen` and commit the result');
  process.exit(1);
}
console.log('protos: lint ok, no breaking change, generated types current');
