'use strict';
// A readiness-aware TCP balancer standing in for a province's load balancer in the upgrade test:
// each new connection goes to the next replica whose health port answers 200 on /health/ready
// (polled every 100 ms), as a Kubernetes Service or an L4 load balancer with health checks would
// route. TLS (mutual, gRPC) passes through untouched.
const net = require('node:net');
const http = require('node:http');

/** GET http://127.0.0.1:<port>/health/ready → true on 200 within 500 ms. */
function ready(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health/ready', timeout: 500, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * Listens on `port` and forwards each connection to one of `backends` ([{port, healthPort}]) that is
 * ready. Returns {close(), stats}: connections per backend port and refused connections (none ready).
 */
async function startProxy(port, backends) {
  const state = backends.map((b) => ({ ...b, ready: false }));
  const stats = { connections: {}, refused: 0 };
  let next = 0;
  let stopped = false;
  const poll = async () => {
    while (!stopped) {
      await Promise.all(state.map(async (b) => (b.ready = await ready(b.healthPort))));
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const polling = poll();
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const candidates = state.filter((b) => b.ready);
    if (!candidates.length) {
      stats.refused++;
      client.destroy();
      return;
    }
    const b = candidates[next++ % candidates.length];
    stats.connections[b.port] = (stats.connections[b.port] || 0) + 1;
    const upstream = net.connect(b.port, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    stats,
    /** Resolves once some backend is ready (or rejects after `ms`). */
    waitReady: async (ms = 60_000) => {
      const deadline = Date.now() + ms;
      while (!state.some((b) => b.ready)) {
        if (Date.now() > deadline) throw new Error(`no backend of port ${port} became ready within ${ms / 1000} s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: async () => {
      stopped = true;
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
      await polling;
    },
  };
}

module.exports = { startProxy, ready };
