import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { Gateway, demoLicence, freePort, gatewayOptions, startGateway, verificationBody } from '@tongban/testkit';

// A replica being replaced under traffic (operations.md §9.2, §11), on a real gateway process:
// - at start, its health port says ready only once the API and federation ports accept: a balancer
//   polling it never routes a connection to a port nobody listens on (the upgrade test's "socket
//   hang up": the readiness came ~200 ms before the HTTP listener);
// - at SIGTERM, keep-alive clients get every request answered: from SIGTERM on each answer says
//   `Connection: close`, the listener stops only after the grace period and answers what is in
//   flight (a request whose body is still arriving then); no request on an open connection is left
//   without an answer (socket hang up, reset).
const HB = '130000';

/** GET on a fresh connection: the status code, or 0 when nothing answers. */
function probe(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Whether a TCP connection to `port` is accepted. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Answer {
  status: number;
  connection: string | undefined;
  reusedSocket: boolean;
  sentAt: number;
  answeredAt: number;
  error?: string;
}

/** One keep-alive request through `agent`. */
function keepAliveGet(agent: Agent, gw: Gateway, path: string): Promise<Answer> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: gw.httpPort, path, agent, headers: { authorization: `Bearer ${gw.apiToken}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, reusedSocket: req.reusedSocket, sentAt, answeredAt: Date.now() }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 0, connection: undefined, reusedSocket: req.reusedSocket, sentAt, answeredAt: Date.now(), error: e.code ?? e.message }));
    req.end();
  });
}

interface SlowAnswer {
  status: number;
  connection: string | undefined;
  body: string;
  restSentAfterListenerClosed: boolean;
}

/**
 * POST /v1/verifications on a raw connection: the headers and half the body now, the other half
 * once the HTTP port refuses new connections; resolves with the answer read to the end.
 */
function requestAcrossListenerClose(gw: Gateway): Promise<SlowAnswer> {
  const body = Buffer.from(JSON.stringify(verificationBody(demoLicence(HB, 'VALID'))));
  const head = `POST /v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${gw.apiToken}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const s = connect(gw.httpPort, '127.0.0.1');
    let text = '';
    let restSentAfterListenerClosed = false;
    s.on('data', (c: Buffer) => (text += c.toString('utf8')));
    s.on('error', reject);
    s.on('close', () => {
      const [headers, ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0);
      const connection = /\r\nconnection: ([^\r]*)/i.exec(headers)?.[1];
      resolve({ status, connection, body: rest.join('\r\n\r\n'), restSentAfterListenerClosed });
    });
    s.once('connect', async () => {
      s.write(head);
      s.write(body.subarray(0, body.length >> 1));
      while (await accepts(gw.httpPort)) await new Promise((r) => setTimeout(r, 20));
      restSentAfterListenerClosed = true;
      s.write(body.subarray(body.length >> 1));
    });
  });
}

describe('replacing a replica: start and drain', () => {
  it('start: the health port is not ready before the HTTP and gRPC ports accept connections', async () => {
    const healthPort = await freePort();
    const o = await gatewayOptions(HB, { env: { TONGBAN_HEALTH_PORT: String(healthPort) } });
    const starting = startGateway(o);
    let firstReady: { http: boolean; grpc: boolean } | undefined;
    let probes = 0;
    const deadline = Date.now() + 60_000;
    try {
      // Poll as a balancer would, but as fast as we can: at the first 200, connect at once.
      while (!firstReady && Date.now() < deadline) {
        probes++;
        if ((await probe(healthPort, '/health/ready')) === 200) firstReady = { http: await accepts(o.httpPort!), grpc: await accepts(o.grpcPort!) };
      }
      expect(firstReady).toEqual({ http: true, grpc: true });
      expect(probes).toBeGreaterThan(1); // it was polled while starting, not only once it was up
    } finally {
      await (await starting).kill();
    }
  }, 90_000);

  it('SIGTERM under keep-alive traffic: Connection: close from SIGTERM on, a request in flight when the listener stops is answered, no request lost', async () => {
    const graceMs = 3000;
    const gw = await startGateway(await gatewayOptions(HB, { env: { TONGBAN_SHUTDOWN_GRACE_MS: String(graceMs) } }));
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const answers: Answer[] = [];
    const lastOfClient: Answer[] = [];
    let sigtermAt = Infinity;
    let stop = false;
    let slow: Promise<SlowAnswer> | undefined;
    try {
      // Four clients sending back to back on kept-alive connections, as a local system's HTTP client
      // pool does. A client leaves at its first `Connection: close` answer: its next request goes
      // on a new connection, which the balancer (seeing the replica not ready) sends elsewhere.
      const clients = [0, 1, 2, 3].map(async () => {
        while (!stop) {
          const a = await keepAliveGet(agent, gw, '/v1/tasks?limit=1');
          answers.push(a);
          if (a.error || a.connection === 'close') return void lastOfClient.push(a);
        }
      });
      await new Promise((r) => setTimeout(r, 500));
      sigtermAt = Date.now();
      gw.proc.kill('SIGTERM');
      // A request still arriving when the grace period ends: its headers and half its body now, the
      // rest only once the port refuses new connections (the listener has stopped). It connects 2 s
      // before the listener stops: a timer late by a loaded machine must not find the port closed.
      await new Promise((r) => setTimeout(r, graceMs - 2000));
      slow = requestAcrossListenerClose(gw);
      await Promise.all(clients);
      const exit = await gw.exited;
      expect(exit.signal).toBe('SIGTERM');
    } finally {
      stop = true;
      agent.destroy();
      await gw.kill();
    }
    // What each request got: "<status> <Connection header>", or the error (and whether the socket was reused).
    const kinds = (list: Answer[]) => [...new Set(list.map((a) => (a.error ? `${a.error}${a.reusedSocket ? ' on a reused socket' : ''}` : `${a.status} ${a.connection}`)))].sort();
    // Answered before SIGTERM: kept alive (the sockets were reused).
    const before = answers.filter((a) => a.answeredAt < sigtermAt);
    expect(kinds(before)).toEqual(['200 keep-alive']);
    expect(before.some((a) => a.reusedSocket)).toBe(true);
    // Each client's last request (in flight at SIGTERM or sent during the grace period) was answered,
    // telling it to close, and the client left.
    expect(lastOfClient).toHaveLength(4);
    expect(kinds(lastOfClient)).toEqual(['200 close']);
    expect(lastOfClient.every((a) => a.answeredAt >= sigtermAt)).toBe(true);
    // No request went unanswered (socket hang up, reset), at any time.
    expect(kinds(answers).filter((k) => !k.startsWith('200 '))).toEqual([]);
    // The request in flight when the listener stopped was answered by the gateway (not cut, not a
    // framework 503), after the port had stopped accepting.
    const late = await slow;
    expect(late.restSentAfterListenerClosed).toBe(true);
    expect(late.connection).toBe('close');
    expect(late.status).toBeGreaterThanOrEqual(200);
    expect(late.status).toBeLessThan(500);
    expect(() => JSON.parse(late.body) as unknown).not.toThrow();
  }, 90_000);
});
