import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { DomainException, ValidationException } from '@tongban/common';

/** The body handed on when a request body is over its limit: the guards answer 413 for it. */
export const TOO_LARGE = Symbol('tongban.body-too-large');
export type TooLargeBody = { [TOO_LARGE]: number };

/** Whether the parsed body stands for an oversized one (and so the request gets a 413). */
export function isTooLarge(body: unknown): body is TooLargeBody {
  return typeof body === 'object' && body !== null && TOO_LARGE in body;
}

// After the answer to an oversized body we keep reading (and discarding) what the client still
// sends, so it reads the 413 instead of a reset connection; within these bounds, then we close.
const DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_MS = 30_000;

type Done = (err: Error | null, body?: unknown) => void;
interface RequestLike {
  headers: Record<string, string | string[] | undefined>;
  raw: { socket?: Socket | null };
}

/**
 * A Fastify content-type parser reading at most `limit` bytes and handing them to `decode`. An
 * oversized body is not an error at this stage (Fastify would close the connection while the
 * client is still sending, and the client would see a reset instead of the answer): the request
 * goes on with a TOO_LARGE marker that InputGuard answers with 413 PAYLOAD_TOO_LARGE, while the
 * rest of the body is drained in the background.
 */
export function limitedBodyParser(limit: number, decode: (bytes: Buffer) => unknown) {
  return (req: RequestLike, payload: Readable, done: Done): void => {
    const socket = req.raw.socket ?? undefined;
    if (Number(req.headers['content-length']) > limit) {
      drain(payload, socket);
      return done(null, { [TOO_LARGE]: limit });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = () => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      detach();
      chunks.length = 0;
      drain(payload, socket);
      done(null, { [TOO_LARGE]: limit });
    };
    const onEnd = () => {
      detach();
      try {
        done(null, decode(Buffer.concat(chunks)));
      } catch (e) {
        done(e as Error);
      }
    };
    const onError = (e: Error) => {
      detach();
      done(e);
    };
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  };
}

function drain(payload: Readable, socket: Socket | undefined): void {
  let drained = 0;
  const stop = () => socket?.destroy();
  const timer = setTimeout(stop, DRAIN_MS);
  timer.unref();
  payload.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_BYTES) {
      clearTimeout(timer);
      stop();
    }
  });
  payload.once('end', () => {
    clearTimeout(timer);
    // The client is done; close a connection it asked to close (the 413 was sent as keep-alive).
    if (/close/i.test(String((payload as Readable & { headers?: Record<string, string> }).headers?.connection ?? ''))) socket?.end();
  });
  payload.once('close', () => clearTimeout(timer));
  payload.on('error', () => clearTimeout(timer));
  payload.resume();
}

/** Decodes a JSON body with Fastify's own parser (prototype poisoning refused); a bad one is VALIDATION_FAILED (body) JSON. */
export function jsonDecoder(parse: (req: unknown, body: string, done: (err: Error | null, value?: unknown) => void) => void): (bytes: Buffer) => unknown {
  return (bytes) => {
    if (bytes.length === 0) throw new ValidationException('(body)', 'JSON', 'request body is empty: send a JSON value (application/json)');
    let out: { err: Error | null; value?: unknown } | undefined;
    parse(undefined, bytes.toString('utf8'), (err, value) => (out = { err, value }));
    if (!out || out.err) throw new ValidationException('(body)', 'JSON', 'request body must be valid JSON (application/json)');
    return out.value;
  };
}

function errorJson(code: string, message: string, extra: Record<string, string> = {}): string {
  return JSON.stringify({ error: { code, message, ...extra, correlationId: randomUUID() } });
}

interface ReplyLike {
  code(status: number): ReplyLike;
  header(name: string, value: string): ReplyLike;
  send(body: string): unknown;
}

/**
 * Fastify's router errors in Tongban's error shape (Fastify's own body echoes the URL): a path
 * parameter over the length limit (414 URI_TOO_LONG) and a path that does not decode (400).
 */
export function frameworkErrors(err: { code?: string }, _req: unknown, reply: ReplyLike): void {
  const [status, body] =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? [414, errorJson('URI_TOO_LONG', `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`, { field: '(path)', rule: 'TOO_LONG' })]
      : [400, errorJson('VALIDATION_FAILED', 'the path is not valid percent-encoded UTF-8', { field: '(path)', rule: 'ENCODING' })];
  reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/**
 * Server options that bound how long a request may take to arrive (TONGBAN_HTTP_REQUEST_TIMEOUT_MS):
 * headers and body within `requestTimeoutMs`, headers alone within at most 60 s. Fastify's default
 * (requestTimeout 0) let a client trickle a body for ever; Node applies the request timeout only with
 * a headers timeout no longer than it, and checks on an interval (a tenth of it, 0.25–30 s). A client
 * past it gets 408 REQUEST_TIMEOUT (clientErrorHandler) and the connection is closed.
 */
export function requestTimeouts(requestTimeoutMs: number): { requestTimeout: number; http: { headersTimeout: number; connectionsCheckingInterval: number } } {
  return {
    requestTimeout: requestTimeoutMs,
    http: { headersTimeout: Math.min(60_000, requestTimeoutMs), connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(requestTimeoutMs / 10))) },
  };
}

/** Longest path parameter the router accepts (ids are UUIDs, kids 43 characters). */
export const MAX_PARAM_LENGTH = 100;

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (request line and headers
 * over 16 KiB, malformed HTTP, a client too slow) in Tongban's error shape, then closes.
 */
export function clientErrorHandler(err: { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, text, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', errorJson('HEADERS_TOO_LARGE', 'the request line and headers are longer than 16 KiB (a URL that long is refused)')]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', errorJson('REQUEST_TIMEOUT', 'the request was not received in time')]
        : [400, 'Bad Request', errorJson('VALIDATION_FAILED', 'malformed HTTP request', { field: '(request)', rule: 'HTTP' })];
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy();
}

/** PAYLOAD_TOO_LARGE for a TOO_LARGE body. */
export function tooLarge(body: TooLargeBody): DomainException {
  return new DomainException('PAYLOAD_TOO_LARGE', `request body is larger than ${body[TOO_LARGE]} bytes`);
}
