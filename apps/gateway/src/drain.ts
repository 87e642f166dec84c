import type { Server as HttpServer } from 'node:http';

/**
 * How long the listeners may take to finish what is in flight once they stop accepting; then the
 * connections still open are cut (a client trickling a body, a stuck call). Shorter than the ~10 s
 * beyond the grace period that operations.md §11 asks orchestrators to allow before a hard kill.
 */
export const DRAIN_LIMIT_MS = 8000;

interface ShuttingDown {
  readonly shuttingDown: boolean;
}
interface ReplyHeaders {
  header(name: string, value: string): unknown;
}

/**
 * A Fastify onSend hook: once shutdown has begun every answer says `Connection: close`, so a
 * keep-alive client opens its next request on a new connection (which the balancer, seeing the
 * replica not ready, sends elsewhere) instead of reusing a socket this replica is about to close.
 * On send, not on request: answers to requests that were in flight at SIGTERM say it too.
 */
export function closeConnectionsWhenDraining(state: ShuttingDown) {
  return (_req: unknown, reply: ReplyHeaders, payload: unknown, done: (err: null, payload: unknown) => void): void => {
    if (state.shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  };
}

/**
 * Stops the HTTP listener: no new connection is accepted, idle keep-alive connections are closed,
 * and the call resolves once every request in flight has been answered (each answer closes its
 * connection, above). Connections still open after `limitMs` are cut.
 */
export function drainHttp(server: HttpServer, limitMs = DRAIN_LIMIT_MS): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const cut = setTimeout(() => server.closeAllConnections(), limitMs);
    cut.unref();
    // Node's close() also closes the connections that carry no request (closeIdleConnections).
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
  });
}

/** The part of grpc-js's Server that draining needs. */
interface GrpcServerLike {
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}
const isGrpcServer = (s: unknown): s is GrpcServerLike =>
  typeof s === 'object' && s !== null && typeof (s as GrpcServerLike).tryShutdown === 'function' && typeof (s as GrpcServerLike).forceShutdown === 'function';

/**
 * Stops the federation port: GOAWAY to every peer connection (peers reconnect, through the balancer,
 * to a ready replica), calls in flight finish; calls still running after `limitMs` are cancelled.
 */
export function drainGrpc(server: unknown, limitMs = DRAIN_LIMIT_MS): Promise<void> {
  return new Promise((resolve) => {
    // Nest types its grpc-js Server as `any` (and drops it once closed): check the shape.
    if (!isGrpcServer(server)) return resolve();
    const cut = setTimeout(() => server.forceShutdown(), limitMs);
    cut.unref();
    server.tryShutdown(() => {
      clearTimeout(cut);
      resolve();
    });
  });
}
