#!/usr/bin/env node
'use strict';
// Where a gateway's CPU goes in bench:cases on PostgreSQL, by part, from a .cpuprofile written with
// BENCH_PROFILE=1: like cpuprofile-parts.js (a sample goes to the first part that claims a frame, from
// the sampled frame up), but parts are matched on the frame's file (libraries' source maps point at
// ../src/…, which cpuprofile-parts.js cannot tell apart) and the pg driver is a part of its own, its
// socket writes included (a write under pg's query is pg's).
// Usage: node scripts/bench/cpuprofile-parts-pg.js [--ms <cpu ms per case>] [--detail "<part>"] <file.cpuprofile>…
const fs = require('node:fs');
const path = require('node:path');
const { label, splitSamples } = require('./cpuprofile-parts');

const PARTS = [
  ['GC', /^\(garbage collector\)/],
  ['native, unattributed (program)', /^\(program\)/],
  ['crypto: signatures and hashes', /node:internal\/crypto|^SignJob |libs\/gm\/|libs\/keys\//],
  ['pg driver (protocol encode/parse, socket writes)', /node_modules\/(pg|pg-protocol|pg-types|pg-pool|postgres-[a-z]+)\//],
  ['TypeORM', /node_modules\/typeorm\//],
  ['Tongban persistence (libs/persistence)', /libs\/persistence\//],
  ['async hooks', /node:async_hooks|node:internal\/async_hooks|libs\/observability\/src\/correlation|async-resource-bind/],
  ['audit trail', /libs\/audit\//],
  ['metrics (prom-client)', /prom-client|libs\/observability\/src\/metrics/],
  ['zod', /node_modules\/zod\//],
  ['protobuf', /@bufbuild|protobufjs|libs\/proto\/|proto-loader/],
  ['grpc-js, HTTP/2, TLS', /grpc-js|node:internal\/http2|node:http2|node:_tls|node:tls/],
  ['HTTP API (Fastify, Nest, node:http)', /fastify|find-my-way|@nestjs\/|node:_http|apps\/gateway\/src\/http/],
  ['Tongban cases', /libs\/cases\//],
  ['Tongban delivery and federation', /libs\/(delivery|federation)\//],
  ['Tongban other code', /(libs|apps)\//],
];

/** Busy ms, ms per part, and (for `detail`) self ms per function inside that part. */
function split(profile, detail) {
  return splitSamples(profile, ({ callFrame: f }) => PARTS.find(([, re]) => re.test(`${f.functionName} ${f.url} ${label(f)}`))?.[0] ?? null, detail);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args.splice(i, 2)[1];
  };
  const perCase = Number(opt('--ms') || 0);
  const detail = opt('--detail');
  if (!args.length) {
    console.error('usage: node scripts/bench/cpuprofile-parts-pg.js [--ms <cpu ms per case>] [--detail "<part>"] <file.cpuprofile>…');
    process.exit(1);
  }
  for (const file of args) {
    const { busy, parts, functions } = split(JSON.parse(fs.readFileSync(file, 'utf8')), detail);
    console.log(`${path.basename(file)}: ${busy.toFixed(0)} ms busy`);
    for (const [name, t] of parts) console.log(`  ${((100 * t) / busy).toFixed(1).padStart(5)} %${perCase ? `  ${((t / busy) * perCase).toFixed(1).padStart(5)} ms` : ''}  ${name}`);
    if (detail) for (const [k, t] of functions.slice(0, 25)) console.log(`    ${((100 * t) / busy).toFixed(2).padStart(5)} %  ${k}`);
  }
}

module.exports = { split, PARTS };
