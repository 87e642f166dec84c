#!/usr/bin/env node
'use strict';
// Where the CPU of cold gateways goes (`node scripts/bench/cold-cost.js`, issue 10 item 5): four
// real gateways (mutual TLS, demo licences, full trust), then single verifications one at a time,
// each measured as the CPU time (utime+stime from /proc, so the figure holds on a loaded machine)
// that asker and issuer used for it:
//   1. A→B first ever (cold processes, new connection), then A→B warm, B→A first, B→A warm
//   2. C↔A and D→B the same way (more cold samples; D has no demo licences, it only asks)
//   3. new pairs among the now warm processes (B→C, C→B, D→A, D→C): first call on a new connection,
//      then a second call on it — the difference is what a first connection to a peer costs
// With the preload tls-count-preload.js in every gateway it also reports TLS secure contexts
// built (and their CPU), client handshakes and server handshakes per gateway, and resumed sessions.
// Env: COLD_WARM_CALLS (default 20), COLD_PROFILE=1 (V8 CPU profiles of the askers B, C, D over
// phase 3, written to .bench/; summarise with cpuprofile-summary.js), COLD_EXEC_ARGV (extra node flags
// for every gateway, space-separated, e.g. --always-sparkplug). Output: a table on stdout and .bench/cold-<timestamp>.json.
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { stopProcesses, trackForkedChildren } = require('../lib/processes');
const children = trackForkedChildren();
const fed = require('../lib/federation');

const CODES = ['110000', '130000', '440000', '310000'];
const WARM = Number(process.env.COLD_WARM_CALLS || 20);
const PROFILE = process.env.COLD_PROFILE === '1';
const CLK_TCK = 100;

function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1000;
}

function bodies(code) {
  const demo = JSON.parse(fs.readFileSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`), 'utf8'));
  return demo.map((l) => ({
    licenceType: l.typeCode,
    licenceId: l.licenceId,
    holder: l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode },
    purpose: '异地办理业务核验',
  }));
}

/** One verification asker→issuer; returns the CPU ms both used (whole processes, so background work counts too). */
async function verify(asker, issuer, i = 0) {
  const list = bodies(issuer.code);
  const before = [cpuMs(asker.proc.pid), cpuMs(issuer.proc.pid)];
  const res = await fed.call(asker, 'POST', '/v1/verifications', list[i % list.length]);
  if (res.status !== 200) throw new Error(`${asker.code}→${issuer.code}: ${res.status} ${JSON.stringify(res.body)}`);
  return { asker: cpuMs(asker.proc.pid) - before[0], issuer: cpuMs(issuer.proc.pid) - before[1] };
}

async function warm(asker, issuer) {
  const t = [cpuMs(asker.proc.pid), cpuMs(issuer.proc.pid)];
  for (let i = 1; i <= WARM; i++) await verify(asker, issuer, i);
  return { asker: (cpuMs(asker.proc.pid) - t[0]) / WARM, issuer: (cpuMs(issuer.proc.pid) - t[1]) / WARM };
}

/** Sends `message` to a gateway's preload and resolves with its answer of type `answer` (null after 10 s). */
function ask(gw, message, answer) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10_000);
    const on = (m) => {
      if (m?.type !== answer && m?.type !== 'bench:profile:error') return;
      clearTimeout(timer);
      gw.proc.off('message', on);
      resolve(m);
    };
    gw.proc.on('message', on);
    gw.proc.send(message);
  });
}
const tlsCounts = (gw) => ask(gw, { type: 'bench:tls:count' }, 'bench:tls:counts');

const fmt = (r) => `asker ${r.asker.toFixed(0).padStart(5)} ms, issuer ${r.issuer.toFixed(0).padStart(5)} ms, both ${(r.asker + r.issuer).toFixed(0).padStart(5)} ms`;

async function main() {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-cold-'));
  const cleanup = async () => {
    await stopProcesses(children);
    fs.rmSync(tmpDir, { recursive: true, force: true });
  };
  for (const s of ['SIGINT', 'SIGTERM']) process.once(s, () => cleanup().finally(() => process.exit(2)));
  let commit = 'unknown';
  try {
    commit = childProcess.execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: fed.ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  console.log(
    `cold-cost — commit ${commit}, ${os.cpus().length} cores, node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const result = { benchmark: 'cold-cost', commit, startedAt: new Date().toISOString(), loadAverage: os.loadavg() };
  try {
    const tls = fed.localPki(path.join(tmpDir, 'tls'), CODES, fed.newPkiSecrets());
    const gws = [];
    for (const [i, code] of CODES.entries()) {
      const o = {
        code,
        dir: path.join(tmpDir, code),
        secrets: fed.newSecrets(),
        tls: tls[code],
        httpPort: 27200 + i,
        grpcPort: 27300 + i,
        execArgv: [
          ...(process.env.COLD_EXEC_ARGV || '').split(/\s+/).filter(Boolean),
          '-r',
          path.join(__dirname, 'tls-count-preload.js'),
          ...(PROFILE ? ['-r', path.join(__dirname, 'profile-preload.js')] : []),
        ],
        env: { TONGBAN_LOG_LEVEL: 'warn' },
      };
      gws.push(await fed.startGateway(o));
      const imported = await fed.runCli(o, ['licences', 'import', path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`)]);
      if (imported.code !== 0 && fs.existsSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`))) throw new Error(`import for ${code} failed: ${imported.stderr}`);
    }
    await fed.connectAll(gws);
    const [A, B, C, D] = gws;
    const rows = [];
    const row = (what, r) => {
      rows.push({ what, ...r });
      console.log(`  ${what.padEnd(44)} ${fmt(r)}`);
    };
    console.log('\nCPU per verification (asker + issuer processes):');
    // D has no licences (no demo file): it only asks.
    for (const [x, y, both] of [
      [A, B, true],
      [C, A, true],
      [D, B, false],
    ]) {
      row(`${x.code}→${y.code} first (${x === A ? 'cold' : 'cold asker'}, new connection)`, await verify(x, y));
      row(`${x.code}→${y.code} warm (mean of ${WARM})`, await warm(x, y));
      if (!both) continue;
      row(`${y.code}→${x.code} first (new connection)`, await verify(y, x));
      row(`${y.code}→${x.code} warm (mean of ${WARM})`, await warm(y, x));
    }
    const fresh = [];
    // COLD_PROFILE=1: a CPU profile of the askers (B, C, D) over the new-pair phase only.
    if (PROFILE) for (const g of [B, C, D]) await ask(g, { type: 'bench:profile:start', intervalUs: 100 }, 'bench:profile:started');
    for (const [x, y] of [
      [B, C],
      [C, B],
      [D, A],
      [D, C],
    ]) {
      const first = await verify(x, y);
      const second = await verify(x, y, 1);
      fresh.push({ first, second });
    }
    if (PROFILE)
      for (const g of [B, C, D]) {
        const file = path.join(fed.ROOT, '.bench', `cold-newpair-${g.code}-${Date.now()}.cpuprofile`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await ask(g, { type: 'bench:profile:stop', file }, 'bench:profile:written');
        console.log(`  profile of ${g.code} over the new-pair phase: ${path.relative(fed.ROOT, file)}`);
      }
    const mean = (k, side) => fresh.reduce((s, r) => s + r[k][side], 0) / fresh.length;
    row('warm processes, new pair: first call (mean of 4)', { asker: mean('first', 'asker'), issuer: mean('first', 'issuer') });
    row('warm processes, same pair: second call', { asker: mean('second', 'asker'), issuer: mean('second', 'issuer') });
    result.rows = rows;
    result.tls = {};
    console.log('\nTLS per gateway (since start):');
    for (const g of gws) {
      const c = await tlsCounts(g);
      result.tls[g.code] = c;
      if (c)
        console.log(
          `  ${g.code}: ${c.secureContexts} secure contexts (${c.secureContextCpuMs} ms CPU), ${c.clientConnects} client handshakes (${c.clientSessionsReused} resumed), ${c.serverHandshakes} server handshakes (${c.serverSessionsReused} resumed)`,
        );
    }
    const out = path.join(fed.ROOT, '.bench', `cold-${Date.now()}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2));
    console.log(`\nwritten ${path.relative(fed.ROOT, out)}`);
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 2;
});
