import { credentials } from '@grpc/grpc-js';
import { once } from 'node:events';
import { createServer, Http2Server, ServerHttp2Session } from 'node:http2';
import { AddressInfo, createServer as createTcpServer } from 'node:net';
import { DomainException } from '@tongban/common';
import { Metrics } from '@tongban/observability';
import type { TrustedPeer } from '@tongban/trust';
import { PeerClient } from './peer-client.service';
import { trustedPeer } from '@tongban/testkit';

// TONGBAN_PEER_PRECONNECT (docs/operations.md §1): real grpc-js channels against real HTTP/2
// servers on loopback (plaintext: the TLS handshake is what preconnect moves, not what it checks;
// the mutual-TLS e2e suites run with it on). The trust store is a stand-in holding the peers.

/** An HTTP/2 server that counts sessions and answers every gRPC call UNIMPLEMENTED (trailers only). */
async function h2Server(port = 0): Promise<{ server: Http2Server; port: number; sessions: ServerHttp2Session[]; nextSession: () => Promise<unknown> }> {
  const server = createServer();
  const sessions: ServerHttp2Session[] = [];
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12', 'grpc-message': 'test server' }, { endStream: true }));
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, sessions, nextSession: () => once(server, 'session') };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createTcpServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

function peer(code: string, port: number, status: TrustedPeer['status'] = 'ACTIVE'): TrustedPeer {
  return trustedPeer(code, { endpoint: `127.0.0.1:${port}`, status });
}

/** The trust store's surface PeerClient uses, with refresh listeners as TrustStore calls them. */
class Peers {
  readonly byCode = new Map<string, TrustedPeer>();
  private readonly listeners = new Set<() => void>();
  set(p: TrustedPeer): void {
    this.byCode.set(p.code, p);
    for (const l of this.listeners) l();
  }
  peer = (code: string) => this.byCode.get(code);
  allPeers = () => this.byCode.values();
  onRefresh = (l: () => void) => (this.listeners.add(l), () => this.listeners.delete(l));
}

const insecure = credentials.createInsecure();
const envelopes = { seal: () => ({ envelope: { jws: 'h.c.s', payload: Buffer.from('q') }, messageId: 'm-1' }), open: async () => ({ claims: {}, payload: Buffer.alloc(0) }) };

function peerClient(trust: Peers, preconnect: boolean, peerDeadlineMs = 2000, metrics?: Metrics): PeerClient {
  return new PeerClient(
    envelopes as never,
    trust as never,
    { channelCredentials: () => insecure, secure: false } as never,
    { peerDeadlineMs, preconnect, maxPayloadBytes: 1024 * 1024 } as never,
    metrics,
  );
}

const preconnects = async (metrics: Metrics) => (await metrics.registry.getSingleMetricAsString('tongban_peer_preconnects_total')).split('\n').filter((l) => l.startsWith('tongban_'));

describe('PeerClient preconnect (TONGBAN_PEER_PRECONNECT)', () => {
  const servers: Awaited<ReturnType<typeof h2Server>>[] = [];
  const clients: PeerClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.onModuleDestroy();
    for (const { server, sessions } of servers.splice(0)) {
      const closed = once(server, 'close');
      server.close();
      for (const session of sessions) session.destroy();
      await closed;
    }
  });
  const serve = async (port?: number) => {
    const h = await h2Server(port);
    servers.push(h);
    return h;
  };

  it('connects to every active peer at start-up, before any call; not to a suspended one', async () => {
    const a = await serve();
    const b = await serve();
    const trust = new Peers();
    trust.set(peer('110000', a.port));
    trust.set(peer('120000', b.port, 'SUSPENDED'));
    const metrics = new Metrics();
    const client = peerClient(trust, true, 2000, metrics);
    clients.push(client);
    const seen = a.nextSession();
    client.onApplicationBootstrap();
    await seen;
    expect(a.sessions).toHaveLength(1);
    expect(b.sessions).toHaveLength(0);
    expect(await client.preconnect()).toEqual([]);
    // Counted when grpc-js reports the channel READY, just after the server saw the session.
    for (const end = Date.now() + 2000; (await preconnects(metrics)).length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(await preconnects(metrics)).toEqual(['tongban_peer_preconnects_total{peer="110000",outcome="ready"} 1']);
    // The first call uses the open connection: no second session.
    await expect(client.call('110000', 'VerifyLicences', Buffer.from('q'))).rejects.toMatchObject({ code: 'ISSUER_REJECTED' });
    expect(a.sessions).toHaveLength(1);
  });

  it('connects to a peer added later when the trust store reloads, once per endpoint', async () => {
    const a = await serve();
    const trust = new Peers();
    const client = peerClient(trust, true);
    clients.push(client);
    client.onApplicationBootstrap();
    const seen = a.nextSession();
    trust.set(peer('110000', a.port));
    await seen;
    expect(await client.preconnect()).toEqual([]); // already tried with this endpoint and TLS material
    const b = await serve();
    const moved = b.nextSession();
    trust.set(peer('110000', b.port)); // the admin changed the endpoint
    await moved;
    expect(b.sessions).toHaveLength(1);
  });

  it('opens nothing before the first call when off', async () => {
    const a = await serve();
    const trust = new Peers();
    trust.set(peer('110000', a.port));
    const client = peerClient(trust, false);
    clients.push(client);
    client.onApplicationBootstrap();
    trust.set(peer('110000', a.port));
    expect((client as unknown as { clients: Map<string, unknown> }).clients.size).toBe(0);
    const seen = a.nextSession();
    await expect(client.call('110000', 'VerifyLicences', Buffer.from('q'))).rejects.toBeInstanceOf(DomainException);
    await seen;
  });

  it('drops the channel of a peer that refuses the connection, so its first call connects at once instead of failing in back-off', async () => {
    const port = await closedPort();
    const trust = new Peers();
    trust.set(peer('110000', port));
    // A long deadline: the channel must go on its first failure, not when the deadline ends.
    const metrics = new Metrics();
    const client = peerClient(trust, false, 10_000, metrics);
    clients.push(client);
    const started = Date.now();
    expect(await client.preconnect()).toEqual([{ peer: '110000', ready: false }]);
    expect(await preconnects(metrics)).toEqual(['tongban_peer_preconnects_total{peer="110000",outcome="failed"} 1']);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The peer comes up within grpc-js's first reconnect back-off (1 s): a kept channel would
    // still be in TRANSIENT_FAILURE and fail this call with UNAVAILABLE (ISSUER_UNREACHABLE).
    const a = await serve(port);
    await expect(client.call('110000', 'VerifyLicences', Buffer.from('q'))).rejects.toMatchObject({ code: 'ISSUER_REJECTED' });
    expect(a.sessions).toHaveLength(1);
    expect(await client.preconnect()).toEqual([]); // one attempt per endpoint: no retry loop against a down peer
  });

  it('drops the channel of a peer not ready within the deadline (a connection that never completes)', async () => {
    // A TCP server that accepts and never speaks HTTP/2: the channel stays CONNECTING.
    const sockets: import('node:net').Socket[] = [];
    const silent = createTcpServer((sock) => sockets.push(sock)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const trust = new Peers();
    trust.set(peer('110000', (silent.address() as AddressInfo).port));
    const client = peerClient(trust, false, 300);
    clients.push(client);
    expect(await client.preconnect()).toEqual([{ peer: '110000', ready: false }]);
    expect((client as unknown as { clients: Map<string, unknown> }).clients.size).toBe(0);
    for (const sock of sockets) sock.destroy();
    silent.close();
  });
});
