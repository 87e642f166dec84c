import { once } from 'node:events';
import { createServer } from 'node:http';
import { closeConnectionsWhenDraining, drainGrpc, drainHttp } from './drain';

describe('drain', () => {
  it('says Connection: close only once shutdown has begun', () => {
    const state = { shuttingDown: false };
    const hook = closeConnectionsWhenDraining(state);
    const headers: Record<string, string> = {};
    const reply = { header: (n: string, v: string) => (headers[n] = v) };
    const done = jest.fn();
    hook(undefined, reply, 'body', done);
    expect(headers).toEqual({});
    state.shuttingDown = true;
    hook(undefined, reply, 'body', done);
    expect(headers).toEqual({ connection: 'close' });
    expect(done).toHaveBeenCalledWith(null, 'body');
  });

  it('gRPC: waits for tryShutdown; cancels what is left after the limit', async () => {
    const graceful = { tryShutdown: (cb: () => void) => setTimeout(cb, 10), forceShutdown: jest.fn() };
    await drainGrpc(graceful, 1000);
    expect(graceful.forceShutdown).not.toHaveBeenCalled();
    let finish: (() => void) | undefined;
    const stuck = { tryShutdown: (cb: () => void) => (finish = cb), forceShutdown: jest.fn(() => finish?.()) };
    await drainGrpc(stuck, 50);
    expect(stuck.forceShutdown).toHaveBeenCalledTimes(1);
    await drainGrpc(undefined); // Nest dropped its server: nothing to do
  });

  it('HTTP: resolves when not listening, and cuts a connection still open after the limit', async () => {
    await drainHttp(createServer());
    const server = createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const res = fetch(`http://127.0.0.1:${port}/`).then(
      (r) => `answered ${r.status}`,
      (e: Error) => e.message,
    );
    await once(server, 'request'); // the request has arrived: its connection is busy, not idle
    const t0 = Date.now();
    await drainHttp(server, 200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(await res).toBe('fetch failed'); // cut, not answered
  });
});
