#!/usr/bin/env node
'use strict';
// Where a process's allocations come from, by the same parts as cpuprofile-parts.js (crypto,
// grpc-js, Fastify, Nest, Tongban code, ...), from a sampled .heapprofile such as
// `BENCH_PROFILE=1 BENCH_HEAP_PROFILE=1 npm run bench:verify` writes (collected objects included,
// so it shows what feeds the GC). Each sampled allocation goes to the first part claiming a frame
// from the allocating function up its stack. Given the number of requests in the profiled window,
// prints KiB per request; `--top N` also lists the N largest allocating frames with their part.
// Usage: node scripts/bench/heapprofile-parts.js <file.heapprofile> [requests] [--top N]
const fs = require('node:fs');
const path = require('node:path');
const { PARTS, label } = require('./cpuprofile-parts');

/** Bytes allocated per part and per (part, frame) in a sampling heap profile. */
function heapParts(profile) {
  const byPart = new Map();
  const byFrame = new Map();
  let total = 0;
  const walk = (node, owner) => {
    const name = label(node.callFrame);
    const own = PARTS.find(([, re]) => re.test(name));
    const here = own ? { part: own[0], frame: name } : owner;
    const part = here ? here.part : 'other Node internals';
    const key = `${part} :: ${here ? here.frame : name}`;
    total += node.selfSize;
    byPart.set(part, (byPart.get(part) ?? 0) + node.selfSize);
    byFrame.set(key, (byFrame.get(key) ?? 0) + node.selfSize);
    for (const child of node.children ?? []) walk(child, here);
  };
  walk(profile.head, null);
  const sorted = (m) => [...m].filter(([, b]) => b > 0).sort((a, b) => b[1] - a[1]);
  return { total, parts: sorted(byPart), frames: sorted(byFrame) };
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 0;
  const [file, requests] = args;
  if (!file) {
    console.error('usage: node scripts/bench/heapprofile-parts.js <file.heapprofile> [requests] [--top N]');
    process.exit(1);
  }
  const { total, parts, frames } = heapParts(JSON.parse(fs.readFileSync(file, 'utf8')));
  const perRequest = (b) => (requests ? `  ${(b / Number(requests) / 1024).toFixed(1).padStart(6)} KiB/request` : '');
  console.log(`${path.basename(file)}: ${(total / 2 ** 20).toFixed(1)} MiB sampled${perRequest(total)}`);
  for (const [name, b] of parts) console.log(`  ${((100 * b) / total).toFixed(1).padStart(5)} %${perRequest(b)}  ${name}`);
  if (top > 0) {
    console.log(`  largest allocating frames:`);
    for (const [name, b] of frames.slice(0, top)) console.log(`  ${((100 * b) / total).toFixed(1).padStart(5)} %${perRequest(b)}  ${name}`);
  }
}

module.exports = { heapParts };
