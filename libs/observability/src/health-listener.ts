import { Worker } from 'node:worker_threads';
import type { CheckResult, ReadinessReport } from './readiness.service';

// Shared state, written by the main thread and read by the listener's thread without a message:
// the three readiness checks (index into CODES), the main event loop's last heartbeat (ms epoch) and
// whether the API and federation ports accept connections yet (1) or not (0).
const DATABASE = 0;
const KEYS = 1;
const SHUTDOWN = 2;
const HEARTBEAT = 3;
const LISTENING = 4;
const CODES: CheckResult[] = ['ok', 'timeout', 'error', 'no_active_key', 'shutting_down'];

/** How stale the main event loop's heartbeat may be before the listener reports it. */
export interface HealthListenerOptions {
  /** Readiness turns 503 (`eventLoop: stalled`) when the main loop has not turned for this long. */
  readyStaleMs: number;
  /** Liveness turns 503 when the main loop has not turned for this long (the orchestrator restarts us). */
  liveStaleMs: number;
  /** How often the main loop writes its heartbeat. */
  heartbeatMs: number;
}

export const HEALTH_LISTENER_DEFAULTS: HealthListenerOptions = { readyStaleMs: 10_000, liveStaleMs: 30_000, heartbeatMs: 500 };

// The listener's thread: plain node:http, no framework, nothing but two routes that read the shared
// state. It runs on its own event loop, so a probe is answered however busy the main loop is (with
// 200 connections of API work a probe through the API's listener waited up to seconds behind them).
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const http = require('node:http');
const { host, port, readyStaleMs, liveStaleMs, codes } = workerData;
const s = new BigInt64Array(workerData.state);
const send = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
};
const server = http.createServer((req, res) => {
  const path = (req.url || '').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'GET only' } });
  const age = Date.now() - Number(Atomics.load(s, ${HEARTBEAT}));
  if (path === '/health/live') return age < liveStaleMs ? send(res, 200, { status: 'ok' }) : send(res, 503, { status: 'stalled' });
  if (path === '/health/ready') {
    const checks = {
      database: codes[Number(Atomics.load(s, ${DATABASE}))],
      keys: codes[Number(Atomics.load(s, ${KEYS}))],
      shutdown: codes[Number(Atomics.load(s, ${SHUTDOWN}))],
      eventLoop: age < readyStaleMs ? 'ok' : 'stalled',
      listening: Atomics.load(s, ${LISTENING}) === 1n ? 'ok' : 'starting',
    };
    const ok = Object.values(checks).every((v) => v === 'ok');
    return send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'not_ready', checks });
  }
  send(res, 404, { error: { code: 'NOT_FOUND', message: 'the health listener serves GET /health/live and /health/ready only' } });
});
server.keepAliveTimeout = 5000;
server.on('error', (e) => parentPort.postMessage({ type: 'error', message: e.message }));
server.listen(port, host, () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
parentPort.on('message', (m) => {
  if (m !== 'close') return;
  server.close(() => parentPort.close());
  server.closeAllConnections();
});
`;

/**
 * `GET /health/live` and `GET /health/ready` on a port of their own, served by a worker thread from
 * state the main thread publishes (TONGBAN_HEALTH_PORT). The readiness answer adds `eventLoop`: the
 * main loop's heartbeat is older than `readyStaleMs` (a stall, not load). Never touches the database.
 */
export class HealthListener {
  private readonly beat: NodeJS.Timeout;

  private constructor(
    private readonly worker: Worker,
    private readonly state: BigInt64Array,
    /** The port it listens on (the one asked for, or the one the system chose for 0). */
    readonly port: number,
    heartbeatMs: number,
  ) {
    this.heartbeat();
    this.beat = setInterval(() => this.heartbeat(), heartbeatMs);
    this.beat.unref();
  }

  /** Starts the listener's thread; resolves once it listens, rejects if it cannot (e.g. port in use). */
  static start(host: string, port: number, options: Partial<HealthListenerOptions> = {}): Promise<HealthListener> {
    const o = { ...HEALTH_LISTENER_DEFAULTS, ...options };
    const state = new BigInt64Array(new SharedArrayBuffer(5 * BigInt64Array.BYTES_PER_ELEMENT));
    // Not ready until the first report: the database has not been checked yet.
    Atomics.store(state, DATABASE, BigInt(CODES.indexOf('timeout')));
    Atomics.store(state, HEARTBEAT, BigInt(Date.now()));
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { host, port, readyStaleMs: o.readyStaleMs, liveStaleMs: o.liveStaleMs, codes: CODES, state: state.buffer },
    });
    worker.unref();
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', (m: { type: string; port?: number; message?: string }) => {
        if (m.type === 'listening') resolve(new HealthListener(worker, state, m.port!, o.heartbeatMs));
        if (m.type === 'error') {
          void worker.terminate();
          reject(new Error(`health listener on ${host}:${port}: ${m.message}`));
        }
      });
    });
  }

  /** Publishes a readiness report (the main thread's checks); the listener answers from it at once. */
  publish(report: ReadinessReport): void {
    Atomics.store(this.state, DATABASE, BigInt(CODES.indexOf(report.checks.database)));
    Atomics.store(this.state, KEYS, BigInt(CODES.indexOf(report.checks.keys)));
    Atomics.store(this.state, SHUTDOWN, BigInt(CODES.indexOf(report.checks.shutdown)));
  }

  /**
   * Records that the API and federation ports accept connections. Until then readiness is 503
   * (`listening: starting`), however the other checks stand: this listener starts before them, and a
   * balancer told "ready" earlier would send connections to a port nobody accepts on.
   */
  markListening(): void {
    Atomics.store(this.state, LISTENING, 1n);
  }

  /** Records that the main event loop turned (also run every heartbeatMs by a timer). */
  heartbeat(): void {
    Atomics.store(this.state, HEARTBEAT, BigInt(Date.now()));
  }

  /** Stops listening and ends the thread. */
  async close(): Promise<void> {
    clearInterval(this.beat);
    const ended = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('close');
    const forced = setTimeout(() => void this.worker.terminate(), 2000);
    await ended;
    clearTimeout(forced);
  }
}
