'use strict';
// Summarises a V8 .cpuprofile: self time aggregated by function name + url (webpack-bundled
// gateway frames are mapped back to their TypeScript source through dist/*.js.map when present),
// and by area (npm package, node internals, Tongban lib/app, GC, idle).
// Usage: node scripts/bench/cpuprofile-summary.js <file.cpuprofile> [topN]
const fs = require('node:fs');
const path = require('node:path');
const { SourceMap } = require('node:module');

const ROOT = path.resolve(__dirname, '..', '..');
const mapCache = new Map();

function sourceMapFor(url) {
  if (mapCache.has(url)) return mapCache.get(url);
  let map = null;
  try {
    const file = url.startsWith('file://') ? new URL(url).pathname : url;
    if (file.startsWith(path.join(ROOT, 'dist')) && fs.existsSync(file + '.map')) map = new SourceMap(JSON.parse(fs.readFileSync(file + '.map', 'utf8')));
  } catch {
    map = null;
  }
  mapCache.set(url, map);
  return map;
}

/** Where a frame comes from, as a short readable location. */
function locate(frame) {
  const url = frame.url || '';
  const map = url ? sourceMapFor(url) : null;
  if (map) {
    const e = map.findEntry(frame.lineNumber, frame.columnNumber);
    if (e && e.originalSource) {
      const src = e.originalSource.replace(/^webpack:\/\/[^/]*\//, '').replace(/^\.\//, '');
      return { where: `${src}:${e.originalLine + 1}`, file: src };
    }
  }
  const rel = url.startsWith('file://') ? path.relative(ROOT, new URL(url).pathname) : url;
  return { where: rel ? `${rel}:${frame.lineNumber + 1}` : '', file: rel };
}

function areaOf(name, file) {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'program (native, unattributed)';
  if (!file) return 'native / builtin';
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + 'node_modules/'.length).split('/');
    return 'npm:' + (rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]);
  }
  if (file.startsWith('node:')) {
    // node:internal/http2/core → node:http2, node:internal/async_hooks → node:async_hooks, node:events → node:events
    const parts = file.replace(/^node:(internal\/)?/, '').split(/[/:]/);
    return `node:${parts[0]}`;
  }
  const m = /^(libs|apps)\/([^/]+)/.exec(file);
  if (m) return `tongban:${m[1]}/${m[2]}`;
  return file;
}

/** Returns {totalMs, byFunction:[{name, where, area, selfMs, pct}], byArea:[{area, selfMs, pct}]}. */
function summarise(profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children || []) parent.set(c, n.id);
  const label = (n) => {
    const loc = locate(n.callFrame);
    return `${n.callFrame.functionName || '(anonymous)'}${loc.where ? ` ${loc.where}` : ''}`;
  };
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the following interval to sample i.
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) || 0) + Math.max(0, dt));
  }
  const byKey = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = nodes.get(id);
    if (!n) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    const loc = locate(n.callFrame);
    let area = areaOf(name, loc.file);
    if (area === 'native / builtin') {
      // A native frame is charged to the nearest caller with a source (crypto job, SQLite statement, …).
      let q = parent.get(id);
      for (let k = 0; k < 4 && q !== undefined; k++) {
        const pn = nodes.get(q);
        const pf = locate(pn.callFrame).file;
        if (pf) {
          area = `native via ${areaOf(pn.callFrame.functionName, pf)}`;
          break;
        }
        q = parent.get(q);
      }
    }
    const key = `${name}\u0000${loc.where}\u0000${area}`;
    const entry = byKey.get(key) || { name, where: loc.where, area, selfUs: 0, callers: new Map() };
    entry.selfUs += us;
    // Native frames (no url: crypto jobs, better-sqlite3 statements, …) share names; the caller says which.
    const p = nodes.get(parent.get(id));
    if (p) {
      const pl = label(p);
      entry.callers.set(pl, (entry.callers.get(pl) || 0) + us);
    }
    byKey.set(key, entry);
    totalUs += us;
    if (name === '(idle)') idleUs += us;
  }
  const busyUs = totalUs - idleUs;

  // Inclusive (self + callees, synchronous part only) time of the project's own functions: which of
  // Tongban's steps the CPU goes to, with the library time they cause.
  const ownKeysOf = new Map();
  const ownKeys = (id) => {
    if (ownKeysOf.has(id)) return ownKeysOf.get(id);
    const n = nodes.get(id);
    const up = parent.has(id) ? ownKeys(parent.get(id)) : [];
    let keys = up;
    const loc = locate(n.callFrame);
    if (/^(libs|apps|scripts)\//.test(loc.file)) {
      const key = `${n.callFrame.functionName || '(anonymous)'}\u0000${loc.where}`;
      if (!up.includes(key)) keys = [...up, key];
    }
    ownKeysOf.set(id, keys);
    return keys;
  };
  const inclusive = new Map();
  for (const [id, us] of selfUs) for (const key of ownKeys(id)) inclusive.set(key, (inclusive.get(key) || 0) + us);
  const byArea = new Map();
  for (const e of byKey.values()) byArea.set(e.area, (byArea.get(e.area) || 0) + e.selfUs);
  const pct = (us) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    byFunction: [...byKey.values()]
      .filter((e) => e.name !== '(idle)')
      .sort((a, b) => b.selfUs - a.selfUs)
      .map((e) => ({
        name: e.name,
        where: e.where,
        area: e.area,
        selfMs: e.selfUs / 1000,
        pct: pct(e.selfUs),
        callers: [...e.callers.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([caller, us]) => ({ caller, selfMs: us / 1000 })),
      })),
    ownInclusive: [...inclusive.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([key, us]) => {
        const [name, where] = key.split('\u0000');
        return { name, where, inclusiveMs: us / 1000, pct: pct(us) };
      }),
    byArea: [...byArea.entries()]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, pct: pct(us) })),
  };
}

/** Human-readable text of a summary. */
function format(title, s, topN = 25) {
  const lines = [];
  lines.push(
    `${title}: ${s.totalMs.toFixed(0)} ms sampled, ${s.busyMs.toFixed(0)} ms busy (${s.totalMs > 0 ? ((100 * s.busyMs) / s.totalMs).toFixed(0) : 0}%), ${s.idleMs.toFixed(0)} ms idle; percentages are of busy time`,
  );
  lines.push('  top self time by function:');
  for (const f of s.byFunction.slice(0, topN)) {
    const where = f.where || (f.area.startsWith('native via') ? `[${f.area}]` : '');
    lines.push(`    ${f.selfMs.toFixed(1).padStart(8)} ms ${f.pct.toFixed(1).padStart(5)}%  ${f.name.slice(0, 40).padEnd(40)} ${where.slice(0, 90)}`);
    // For native frames (no source location) the caller is what identifies them.
    if (!f.where && f.callers.length && !f.name.startsWith('(')) {
      const shown = f.callers.map((c) => `${c.caller.slice(0, 90)} (${c.selfMs.toFixed(0)} ms)`).join('; ');
      lines.push(`${' '.repeat(22)}↳ called from: ${shown}`);
    }
  }
  if (s.ownInclusive.length) {
    lines.push('  inclusive time of project functions (self + everything they call synchronously):');
    for (const f of s.ownInclusive.slice(0, Math.min(topN, 20))) {
      lines.push(`    ${f.inclusiveMs.toFixed(1).padStart(8)} ms ${f.pct.toFixed(1).padStart(5)}%  ${f.name.slice(0, 40).padEnd(40)} ${f.where.slice(0, 90)}`);
    }
  }
  lines.push('  self time by area:');
  for (const a of s.byArea.slice(0, 20)) lines.push(`    ${a.selfMs.toFixed(1).padStart(8)} ms ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`);
  return lines.join('\n');
}

module.exports = { summarise, format };

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node scripts/bench/cpuprofile-summary.js <file.cpuprofile> [topN]\n');
    process.exit(2);
  }
  const map = path.join(ROOT, 'dist', 'apps', 'gateway', 'main.js.map');
  if (fs.existsSync(map) && fs.statSync(map).mtimeMs > fs.statSync(file).mtimeMs) {
    console.log('note: dist/ was rebuilt after this profile was taken; TypeScript locations of gateway frames may be wrong');
  }
  console.log(format(path.basename(file), summarise(JSON.parse(fs.readFileSync(file, 'utf8'))), Number(top) || 25));
}
