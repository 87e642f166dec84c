#!/usr/bin/env node
'use strict';
// Where a process's CPU goes, by part (crypto, SQLite, grpc-js, framework, GC, ...), from a V8
// .cpuprofile such as bench:verify's BENCH_PROFILE=1 writes: each sample is given to the first part
// that claims a frame, walking from the sampled frame up its stack (so the native work under a
// signature verify counts as crypto, a statement under the replay store as SQLite). Prints each
// part's share of busy time and, given the measured CPU per request, its µs per request.
// Usage: node scripts/bench/cpuprofile-parts.js <file.cpuprofile> [cpu µs per request]
const fs = require('node:fs');
const path = require('node:path');
const { SourceMap } = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..');
const maps = new Map();
function mapFor(url) {
  if (!maps.has(url)) {
    let map = null;
    try {
      const file = url.startsWith('file://') ? new URL(url).pathname : url;
      if (fs.existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  return maps.get(url);
}

/** "function source:line" of a frame, webpack bundles mapped back to their TypeScript source. */
function label(frame) {
  const url = frame.url || '';
  const map = url ? mapFor(url) : null;
  const entry = map ? map.findEntry(frame.lineNumber, frame.columnNumber) : null;
  const where =
    entry && entry.originalSource ? entry.originalSource.replace(/^webpack:\/\/[^/]*\//, '').replace(/^\.\//, '') : url.startsWith('file://') ? path.relative(ROOT, new URL(url).pathname) : url;
  return `${frame.functionName || '(anonymous)'} ${where}`;
}

// Order matters: a sample belongs to the first part that claims a frame, from the leaf up.
const PARTS = [
  ['GC', /^\(garbage collector\)/],
  ['native, unattributed (program)', /^\(program\)/],
  ['crypto: signatures and hashes', /node:internal\/crypto|^SignJob |libs\/gm\/|libs\/keys\//],
  ['async hooks (AsyncResource, AsyncLocalStorage)', /node:async_hooks|node:internal\/async_hooks|libs\/observability\/src\/correlation/],
  ['SQLite through TypeORM', /typeorm|\.\.\/src\/(driver|query-runner|entity-manager|data-source|subscriber|query-builder)\/|libs\/persistence\/src\/(sqlite-writer|transaction)/],
  ['SQLite prepared (better-sqlite3, hot-path statements)', /better-sqlite3|libs\/persistence\/src\/prepared-statement/],
  ['audit trail (rows, hash chain)', /libs\/audit\//],
  ['metrics (prom-client)', /prom-client|libs\/observability\/src\/metrics/],
  ['zod validation', /node_modules\/zod\//],
  ['protobuf encode/decode', /@bufbuild|protobufjs|libs\/proto\/|proto-loader/],
  ['jose (token decoding)', /node_modules\/jose\//],
  ['Nest request pipeline', /@nestjs\//],
  ['Fastify (router, hooks, body parser, reply)', /fastify|find-my-way|middie|secure-json-parse/],
  ['HTTP/1 server (node:http, net)', /node:_http|node:net/],
  ['grpc-js, HTTP/2, TLS sockets', /grpc-js|\.\.\/src\/|node:internal\/http2|node:http2|stream_base_commons|node:_tls|node:tls/],
  ['Tongban code (libs, apps)', / (libs|apps)\//],
];

/**
 * Splits a profile's busy time into parts: a sample goes to the first part that `own(node)` names for
 * its frame or, when it names none, for the nearest caller's (the root's samples: other Node internals).
 * With `detail`, also the self ms per function of that part. Returns { busy, parts, functions }.
 */
function splitSamples(profile, own, detail) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children || []) byId.get(c).parent = n;
  const partOf = new Map();
  const part = (node) => {
    if (partOf.has(node)) return partOf.get(node);
    const p = own(node) ?? (node.parent ? part(node.parent) : 'other Node internals');
    partOf.set(node, p);
    return p;
  };
  const ms = new Map();
  const fns = new Map();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (node.callFrame.functionName === '(idle)') return;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    busy += dt;
    const p = node.callFrame.functionName === '(root)' ? 'other Node internals' : part(node);
    ms.set(p, (ms.get(p) ?? 0) + dt);
    if (p === detail) {
      const k = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/.*node_modules\//, '')}:${node.callFrame.lineNumber + 1}`;
      fns.set(k, (fns.get(k) ?? 0) + dt);
    }
  });
  return { busy, parts: [...ms].sort((a, b) => b[1] - a[1]), functions: [...fns].sort((a, b) => b[1] - a[1]) };
}

function parts(profile) {
  return splitSamples(profile, (node) => {
    const name = label(node.callFrame);
    // The bare issuer's SQLite read is a native `get` called from bare-issuer.js.
    const own = PARTS.find(([, re]) => re.test(name)) ?? (/^(get|all|run) $/.test(name) && node.parent && /bare-issuer\.js/.test(label(node.parent.callFrame)) ? PARTS[5] : null);
    return own ? own[0] : null;
  });
}

if (require.main === module) {
  const [file, perRequest] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node scripts/bench/cpuprofile-parts.js <file.cpuprofile> [cpu µs per request]');
    process.exit(1);
  }
  const { busy, parts: list } = parts(JSON.parse(fs.readFileSync(file, 'utf8')));
  console.log(`${path.basename(file)}: ${busy.toFixed(0)} ms busy`);
  for (const [name, t] of list) {
    const share = t / busy;
    console.log(`  ${(100 * share).toFixed(1).padStart(5)} %${perRequest ? `  ${(share * Number(perRequest)).toFixed(0).padStart(5)} µs` : ''}  ${name}`);
  }
}

module.exports = { parts, splitSamples, PARTS, label };
