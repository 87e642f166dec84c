#!/usr/bin/env node
'use strict';
// Builds the admin console (apps/console) into dist/console/: one script bundle, one stylesheet and
// index.html — self-contained (no CDN, nothing fetched from another host), no inline script or style,
// so the gateway's Content-Security-Policy (script-src 'self'; style-src 'self') holds.
const { copyFileSync, mkdirSync, rmSync } = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'apps', 'console');
const OUT = path.join(ROOT, 'dist', 'console');

async function main() {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(SRC, 'src', 'main.tsx')],
    bundle: true,
    minify: true,
    sourcemap: false,
    format: 'iife',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(SRC, 'tsconfig.json'),
    outfile: path.join(OUT, 'app.js'),
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(path.join(SRC, 'index.html'), path.join(OUT, 'index.html'));
  copyFileSync(path.join(SRC, 'src', 'styles.css'), path.join(OUT, 'app.css'));
  copyFileSync(path.join(SRC, 'favicon.svg'), path.join(OUT, 'favicon.svg'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
