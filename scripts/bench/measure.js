'use strict';
// Measuring helpers of the benchmarks: a load run in a separate autocannon process (load-runner.js)
// with the CPU time each server process used in the timed window (from /proc), free ports, timeouts.
const childProcess = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

/** Rejects when `promise` does not settle within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A free TCP port on 127.0.0.1 not handed out before in this run (bounded tries). */
async function freePort(used) {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = srv.address().port;
        srv.close(() => resolve(p));
      });
    });
    if (!used.has(port)) {
      used.add(port);
      return port;
    }
  }
  throw new Error('no free port found in 50 tries');
}

let clockTicks;
/** CPU time (user+system, ms) a process has used so far, from /proc (Linux); null elsewhere. */
function cpuMsOf(pid) {
  try {
    clockTicks ??= Number(childProcess.execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks; // utime, stime
  } catch {
    return null;
  }
}

/** Machine-wide CPU time counters (ms, summed over cores). */
function machineCpu() {
  return os.cpus().reduce(
    (a, c) => {
      const t = c.times;
      a.busy += t.user + t.nice + t.sys + t.irq;
      a.total += t.user + t.nice + t.sys + t.irq + t.idle;
      return a;
    },
    { busy: 0, total: 0 },
  );
}

/**
 * One warm-up + measurement by load-runner.js in its own process. `options`: url, path, token,
 * bodiesFile, connections, kind ('single' | 'batch'), warmupS, durationS, timeoutS (or requests and
 * warmupRequests: a fixed number). `pids` ({name:
 * pid}) are the server processes whose CPU is sampled around the timed window; the result carries
 * cpu[name] = {cpuMs, utilisation, usPerRequest}, and cpu.other (everything else on the machine).
 */
function runLoad(options, pids = {}) {
  const cfg = { timeoutS: 10, warmupS: 2, durationS: 10, ...options };
  return new Promise((resolve, reject) => {
    const proc = childProcess.fork(path.join(__dirname, 'load-runner.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // A run of a fixed number of requests (cfg.requests) has no duration to bound it: 30 min.
    const limitMs = cfg.requests ? 1_800_000 : (cfg.warmupS + cfg.durationS + 60) * 1000;
    let settled = false;
    const done = (fn, v) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(v);
    };
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      done(reject, new Error(`load runner did not finish within ${limitMs / 1000} s`));
    }, limitMs);
    let cpuStart;
    let wallStart;
    const all = () => ({ ...pids, loadgen: proc.pid });
    proc.on('message', (m) => {
      if (m?.type === 'measure-start') {
        wallStart = process.hrtime.bigint();
        cpuStart = Object.fromEntries(Object.entries(all()).map(([k, pid]) => [k, cpuMsOf(pid)]));
        cpuStart.machine = machineCpu();
      } else if (m?.type === 'result') {
        const wallMs = wallStart ? Number(process.hrtime.bigint() - wallStart) / 1e6 : null;
        const cpu = {};
        for (const [k, pid] of Object.entries(all())) {
          const end = cpuMsOf(pid);
          const start = cpuStart?.[k];
          if (end === null || start === null || start === undefined || !wallMs) continue;
          const ms = end - start;
          cpu[k] = { cpuMs: ms, utilisation: ms / wallMs, usPerRequest: m.result.ok2xx ? (ms * 1000) / m.result.ok2xx : null };
        }
        if (cpuStart?.machine && wallMs) {
          const ours = Object.values(cpu).reduce((a, c) => a + c.cpuMs, 0);
          const other = Math.max(0, machineCpu().busy - cpuStart.machine.busy - ours);
          cpu.other = { cpuMs: other, utilisation: other / wallMs, usPerRequest: null };
        }
        done(resolve, { ...m.result, warmup: m.warmup, cpu });
      } else if (m?.type === 'error') done(reject, new Error(`load runner: ${m.message}`));
    });
    // The result message can trail the exit event slightly; give it a moment before giving up.
    proc.once('exit', (code) => setTimeout(() => done(reject, new Error(`load runner exited (${code}) without a result`)), 1000));
    proc.send(cfg);
  });
}

/** Exact percentile (nearest rank) of an ascending array. */
function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Calls `fn` repeatedly for `ms` of wall time in this process: the calls made, wall µs and CPU µs (user + system) used. */
function timedLoop(fn, ms) {
  let n = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    fn();
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  return { n, wallUs: Number(process.hrtime.bigint() - t0) / 1e3, cpuUs: cpu.user + cpu.system };
}

/** The samples of metric `name` in a Prometheus text exposition: { labels (e.g. `kind="major"`, comma-separated), value }. */
function* samples(text, name) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name} `) && !line.startsWith(`${name}{`)) continue;
    const labelText = line.startsWith(`${name}{`) ? line.slice(name.length + 1, line.indexOf('}')) : '';
    yield { labels: labelText.split(','), value: Number(line.slice(line.lastIndexOf(' ') + 1)) };
  }
}

const metricsText = async (gw) => (await fetch(`${gw.baseUrl}/metrics`)).text();

/**
 * A gateway's counter from its /metrics: the sum of the metric's samples whose labels include every
 * `labels` pair (all samples when none are given).
 */
async function metric(gw, name, labels = {}) {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const s of samples(await metricsText(gw), name)) if (wanted.every((w) => s.labels.includes(w))) total += s.value;
  return total;
}

/**
 * Several metrics of a gateway from one read of its /metrics, each summed by the value of one label:
 * { [name]: { [label value]: sum } } (e.g. GC events by `kind`).
 */
async function metricsByLabel(gw, names, label) {
  const text = await metricsText(gw);
  const prefix = `${label}="`;
  return Object.fromEntries(
    names.map((name) => {
      const byValue = {};
      for (const s of samples(text, name)) {
        const l = s.labels.find((x) => x.startsWith(prefix));
        if (l) byValue[l.slice(prefix.length, -1)] = (byValue[l.slice(prefix.length, -1)] ?? 0) + s.value;
      }
      return [name, byValue];
    }),
  );
}

module.exports = { withTimeout, freePort, cpuMsOf, machineCpu, runLoad, percentile, timedLoop, metric, metricsByLabel };
