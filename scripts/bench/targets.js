'use strict';
// The targets of issue 10 ("The hot path"), printed at the end of every benchmark with this run's
// figure and MET / NOT MET, and (only with BENCH_RECORD=1, so casual runs leave the tree clean) one
// line per run appended to docs/performance-history.csv: date, commit, machine, load, bench, figures.
// Each benchmark builds its checks with check() and hands them to report().
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const HISTORY = path.join(ROOT, 'docs', 'performance-history.csv');
const HEADER = 'date,commit,changed_paths,cpu,cores,load_avg_1m,bench,note,met,not_met,figures';

/** Issue 10's goals, one place: the benchmarks read their thresholds from here. */
const GOALS = {
  verifyThroughputC64: 0.75, // Tongban req/s ÷ bare req/s at 64 connections, at least
  verifyP99C16: 1.5, // Tongban p99 ÷ bare p99 at 16 connections, at most
  verifyCpuPerRequest: 1.5, // Tongban CPU µs per verification (asker + issuer) ÷ bare (front + issuer), at most
  rssUnderLoadMiB: 300, // one gateway's RSS under the c=64 load, at most
  idleRssMiB: 150, // one idle gateway's RSS, at most
  casesPerSecSqlite: 100,
  casesPerSecPostgres: 60,
  // Half of the 134 that bench:cases counted at f165070 (2026-12-03 07:30, before the statement work;
  // 135–142 under heavier load). The "~30" of the issue was an estimate that left out BEGIN/COMMIT,
  // the API's reads and the workers' claims.
  statementsPerCasePostgres: 67,
  simVerificationsPerSec: 50, // SIM_QUICK=1 npm run sim:federation, at least
  simP99Ms: 500, // at most
  idleCpuShare: 0.005, // share of one core per idle gateway, at most
  growthFlatRatio: 1.2, // per-request cost at the largest size ÷ at the smallest, at most
  sm2ThroughputC64: 0.7, // issue 11: SM2SM3 pair req/s ÷ Ed25519 pair req/s at 64 connections (bench:verify --sm2), at least
};

/**
 * One target checked in this run. `met` is true/false, or null when the run could not measure it
 * (then `figure` says why). `figure` is the human-readable figure; `value` the number recorded.
 */
function check(name, met, figure, value = null) {
  return { name, met: met === null ? null : Boolean(met), figure: String(figure), value: typeof value === 'number' && Number.isFinite(value) ? value : null };
}

const verdictOf = (c) => (c.met === null ? 'NOT MEASURED' : c.met ? 'MET' : 'NOT MET');

function git(args) {
  try {
    return childProcess.execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

/** Date, commit, machine and load of this run. */
function runInfo() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    commit: git(['rev-parse', '--short', 'HEAD']) ?? 'unknown',
    changedPaths: (git(['status', '--porcelain']) ?? '').split('\n').filter(Boolean).length,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    loadAvg1m: +os.loadavg()[0].toFixed(2),
  };
}

const csvCell = (v) => {
  const s = String(v ?? '');
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * Prints the block of targets for `bench` and, with BENCH_RECORD=1, appends the run to
 * docs/performance-history.csv (BENCH_NOTE=… adds a note, e.g. "2 cores shared with other jobs").
 * Returns the checks with their verdicts.
 */
function report(bench, checks, options = {}) {
  const info = runInfo();
  const note = [process.env.BENCH_NOTE, options.note].filter(Boolean).join('; ');
  const log = options.log ?? console.log;
  const width = Math.max(...checks.map((c) => c.name.length), 20);
  log('');
  log(
    `issue ${options.issue ?? 10} targets — ${bench}, commit ${info.commit}${info.changedPaths ? ` (+${info.changedPaths} changed paths)` : ''}, ${info.cpu} ×${info.cores}, load ${info.loadAvg1m}${note ? `, ${note}` : ''}`,
  );
  for (const c of checks) log(`  ${verdictOf(c).padEnd(12)} ${c.name.padEnd(width)}  ${c.figure}`);
  const met = checks.filter((c) => c.met === true).length;
  const notMet = checks.filter((c) => c.met === false).length;
  log(`  ${met} met, ${notMet} not met${checks.length - met - notMet ? `, ${checks.length - met - notMet} not measured` : ''}`);
  if (process.env.BENCH_RECORD === '1') {
    const figures = checks.map((c) => `${c.name} = ${c.figure} [${verdictOf(c)}]`).join('; ');
    const line = [info.date, info.commit, info.changedPaths, info.cpu, info.cores, info.loadAvg1m, bench, note, met, notMet, figures].map(csvCell).join(',');
    const fresh = !fs.existsSync(HISTORY) || fs.statSync(HISTORY).size === 0;
    fs.appendFileSync(HISTORY, `${fresh ? HEADER + '\n' : ''}${line}\n`);
    log(`  recorded in ${path.relative(process.cwd(), HISTORY) || HISTORY}`);
  } else log('  (BENCH_RECORD=1 appends this run to docs/performance-history.csv)');
  return checks.map((c) => ({ ...c, verdict: verdictOf(c) }));
}

/** Resident set size of a process in MiB (Linux /proc), or null. */
function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

module.exports = { GOALS, check, report, rssMiB, runInfo, HISTORY };
