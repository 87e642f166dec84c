'use strict';
// A readiness-aware TCP balancer standing in for a province's load balancer in the upgrade test:
// each new connection goes to the next replica whose health port answers 200 on /health/ready
// (polled every 100 ms), as a Kubernetes Service or an L4 load balancer with health checks would
// route. TLS (mutual, gRPC) passes through untouched.
//
// A connection the chosen replica refuses is tried on the next ready one, as nginx's stream module
// does by default (proxy_next_upstream on) and HAProxy with `retries`: nothing of the request has
// been sent yet, so this is safe for any request. Such refusals are counted (stats.connectFailures)
// because they are a fault of the replica: it said ready while its port did not accept. Once
// connected nothing is retried: a replica that closes a connection without answering shows as
// "socket hang up" at the client, as through a real L4 balancer.
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
 * ready. Returns {close(), stats}: connections per backend port, connections a backend refused
 * (retried on another) and refused client connections (none ready).
 */
async function startProxy(port, backends) {
  const state = backends.map((b) => ({ ...b, ready: false }));
  const stats = { connections: {}, connectFailures: {}, refused: 0 };
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
  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    const tried = new Set();
    const attempt = () => {
      const candidates = state.filter((b) => b.ready && !tried.has(b.port));
      if (!candidates.length) {
        stats.refused++;
        client.destroy();
        return;
      }
      const b = candidates[next++ % candidates.length];
      tried.add(b.port);
      const upstream = net.connect(b.port, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        if (client.destroyed) return upstream.destroy();
        stats.connections[b.port] = (stats.connections[b.port] || 0) + 1;
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on('error', () => {
        if (connected) return client.destroy();
        stats.connectFailures[b.port] = (stats.connectFailures[b.port] || 0) + 1;
        b.ready = false; // until the next poll says otherwise
        attempt();
      });
    };
    attempt();
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
