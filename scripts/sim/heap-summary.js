#!/usr/bin/env node
'use strict';
// Summarises a V8 .heapsnapshot (e.g. from a gateway started with --heapsnapshot-signal=SIGUSR2):
// self size by node type, by constructor / name for the biggest groups, and script source bytes by
// package (node_modules/<pkg>, or the gateway bundle). Used to explain a gateway's idle memory.
// Usage: node scripts/sim/heap-summary.js <file.heapsnapshot> [top=25]
const fs = require('node:fs');

const file = process.argv[2];
const TOP = Number(process.argv[3] || 25);
if (!file) {
  console.error('usage: node scripts/sim/heap-summary.js <file.heapsnapshot> [top]');
  process.exit(2);
}
const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const iType = meta.node_fields.indexOf('type');
const iName = meta.node_fields.indexOf('name');
const iSize = meta.node_fields.indexOf('self_size');
const iEdges = meta.node_fields.indexOf('edge_count');
const types = meta.node_types[iType];
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const edgeTypes = meta.edge_types[eType];
const { nodes, edges, strings } = snap;

const MB = (b) => (b / 2 ** 20).toFixed(2);
const byType = new Map();
const byName = new Map();
let total = 0;
for (let i = 0; i < nodes.length; i += NF) {
  const t = types[nodes[i + iType]];
  const size = nodes[i + iSize];
  total += size;
  byType.set(t, (byType.get(t) || 0) + size);
  let name = strings[nodes[i + iName]];
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string') name = '(strings)';
  else if (t === 'code') name = `(code) ${name.slice(0, 40)}`;
  else if (t === 'closure') name = '(closures)';
  else if (t === 'array') name = `(array) ${name.slice(0, 40)}`;
  else if (t === 'hidden' || t === 'object shape') name = `(${t}) ${name.slice(0, 40)}`;
  const k = `${t}:${name.slice(0, 80)}`;
  byName.set(k, (byName.get(k) || 0) + size);
}

// Script sources: `code` nodes (V8 Script objects, named by their file) with a `source` edge to a
// string; a concatenated string's size is the sum of its leaves. Grouped by package.
const firstEdge = new Array(nodes.length / NF);
for (let n = 0, e = 0; n < nodes.length / NF; n++) {
  firstEdge[n] = e;
  e += nodes[n * NF + iEdges] * EF;
}
const edgeName = (e) => {
  const et = edgeTypes[edges[e + eType]];
  return et === 'element' || et === 'hidden' ? edges[e + eName] : strings[edges[e + eName]];
};
function stringBytes(nodeIndex, depth = 0) {
  const t = types[nodes[nodeIndex + iType]];
  if (t === 'string') return nodes[nodeIndex + iSize];
  if (t === 'sliced string' || depth > 5000) return nodes[nodeIndex + iSize];
  if (t !== 'concatenated string') return 0;
  let sum = 0;
  const n = nodeIndex / NF;
  for (let e = firstEdge[n], k = 0; k < nodes[nodeIndex + iEdges]; k++, e += EF) {
    const nm = edgeName(e);
    if (nm === 'first' || nm === 'second') sum += stringBytes(edges[e + eTo], depth + 1);
  }
  return sum;
}
const bySource = new Map();
let sourceTotal = 0;
for (let n = 0; n < nodes.length / NF; n++) {
  const base = n * NF;
  if (types[nodes[base + iType]] !== 'code') continue;
  let size = 0;
  for (let e = firstEdge[n], k = 0; k < nodes[base + iEdges]; k++, e += EF) if (edgeName(e) === 'source') size += stringBytes(edges[e + eTo]);
  if (!size) continue;
  const scriptName = strings[nodes[base + iName]];
  const m = scriptName.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  const pkg = m
    ? m[1]
    : scriptName.includes('/dist/apps/')
      ? '(gateway bundle)'
      : scriptName.startsWith('node:')
        ? '(node internals)'
        : scriptName
          ? scriptName.slice(-60)
          : '(unnamed: eval / wrapper)';
  bySource.set(pkg, (bySource.get(pkg) || 0) + size);
  sourceTotal += size;
}

console.log(`heap snapshot ${file}: ${MB(total)} MiB of live objects (self sizes), ${nodes.length / NF} nodes`);
console.log('by node type:');
for (const [t, s] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`  ${t.padEnd(22)} ${MB(s).padStart(8)} MiB`);
console.log(`top ${TOP} groups (type:constructor/name):`);
for (const [k, s] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${MB(s).padStart(8)} MiB  ${k}`);
console.log(`script source strings by package (${MB(sourceTotal)} MiB in all; part of "(strings)"):`);
for (const [k, s] of [...bySource].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`  ${MB(s).padStart(8)} MiB  ${k}`);
