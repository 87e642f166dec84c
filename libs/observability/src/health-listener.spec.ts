import { Worker } from 'node:worker_threads';
import { HealthListener } from './health-listener';
import type { ReadinessReport } from './readiness.service';

const OK: ReadinessReport = { status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok' } };

interface Answer {
  path: string;
  status: number;
  body: { status: string; checks?: Record<string, string> };
  at: number;
}

// A probe client on a thread of its own: on 'go' it asks each [path, delayMs] and posts the answers
// with the time they arrived, so a test can block the main thread while the probes run.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const ask = (path) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port: workerData.port, path, agent: false }, (res) => {
    let text = '';
    res.on('data', (c) => (text += c));
    res.on('end', () => resolve({ path, status: res.statusCode, body: JSON.parse(text), at: Date.now() }));
  }).on('error', reject);
});
parentPort.once('message', async () => {
  const answers = await Promise.all(workerData.asks.map(([path, delay]) => new Promise((r) => setTimeout(r, delay)).then(() => ask(path))));
  parentPort.postMessage(answers);
});
parentPort.postMessage('ready');
`;

/** Runs the probes of `asks` from another thread while this thread is blocked for `blockMs`. */
async function probeWhileBlocked(port: number, asks: [string, number][], blockMs: number): Promise<{ answers: Answer[]; unblockedAt: number }> {
  const client = new Worker(CLIENT, { eval: true, workerData: { port, asks } });
  try {
    await new Promise((resolve) => client.once('message', resolve));
    const answers = new Promise<Answer[]>((resolve, reject) => {
      client.once('message', resolve);
      client.once('error', reject);
    });
    client.postMessage('go');
    const until = Date.now() + blockMs;
    while (Date.now() < until) {
      // The main event loop is stuck here, as under a long synchronous stretch of API work.
    }
    const unblockedAt = Date.now();
    return { answers: await answers, unblockedAt };
  } finally {
    await client.terminate();
  }
}

const get = async (port: number, path: string) => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as Answer['body'] };
};

describe('HealthListener (its own port and thread)', () => {
  let listener: HealthListener | undefined;

  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  it('answers /health/ready while the main event loop is blocked, and reports the stall once the heartbeat is stale', async () => {
    // Margins of ≥ 1 s on every side: the probing and answering threads share two cores with the
    // spinning main thread. The first probe is answered before the heartbeat is 1.5 s old, the
    // second asks at 2.5 s (stale) and is answered before the main thread is free at 4 s.
    listener = await HealthListener.start('127.0.0.1', 0, { readyStaleMs: 1500, liveStaleMs: 60_000, heartbeatMs: 50 });
    listener.publish(OK);
    listener.markListening();
    const { answers, unblockedAt } = await probeWhileBlocked(
      listener.port,
      [
        ['/health/ready', 0],
        ['/health/ready', 2500],
        ['/health/live', 2500],
      ],
      4000,
    );
    // Every answer arrived while the main thread was still blocked.
    for (const a of answers) expect(a.at).toBeLessThan(unblockedAt);
    expect(answers[0]).toMatchObject({ status: 200, body: { status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok', eventLoop: 'ok' } } });
    expect(answers[1]).toMatchObject({ status: 503, body: { status: 'not_ready', checks: { database: 'ok', eventLoop: 'stalled' } } });
    expect(answers[2]).toMatchObject({ status: 200, body: { status: 'ok' } });
    // The loop turns again: the heartbeat is fresh and readiness comes back.
    listener.heartbeat();
    expect(await get(listener.port, '/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('is not ready before the first report, nor before the ports listen, and follows what the main thread publishes', async () => {
    listener = await HealthListener.start('127.0.0.1', 0);
    expect(await get(listener.port, '/health/ready')).toMatchObject({ status: 503, body: { checks: { database: 'timeout', listening: 'starting' } } });
    expect(await get(listener.port, '/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
    listener.publish(OK);
    // Every check of the main thread passes, but the API and federation ports do not accept yet.
    expect(await get(listener.port, '/health/ready')).toEqual({
      status: 503,
      body: { status: 'not_ready', checks: { database: 'ok', keys: 'ok', shutdown: 'ok', eventLoop: 'ok', listening: 'starting' } },
    });
    listener.markListening();
    expect(await get(listener.port, '/health/ready')).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok', eventLoop: 'ok', listening: 'ok' } } });
    listener.publish({ status: 'not_ready', checks: { database: 'ok', keys: 'ok', shutdown: 'shutting_down' } });
    expect(await get(listener.port, '/health/ready')).toMatchObject({ status: 503, body: { status: 'not_ready', checks: { shutdown: 'shutting_down' } } });
    expect((await get(listener.port, '/v1/cases')).status).toBe(404);
  });

  it('fails to start, naming the address, when the port is taken', async () => {
    listener = await HealthListener.start('127.0.0.1', 0);
    await expect(HealthListener.start('127.0.0.1', listener.port)).rejects.toThrow(new RegExp(`health listener on 127.0.0.1:${listener.port}: .*EADDRINUSE`));
  });
});
