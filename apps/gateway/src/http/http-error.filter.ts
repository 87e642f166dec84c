import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainException, ErrorCode } from '@tongban/common';
import { ConfirmedWrites, databaseFaultAfterWrites } from '@tongban/persistence';
import { isTooLarge } from './http-input';

/** The one table from domain error codes to HTTP statuses. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  ISSUER_UNKNOWN: 502,
  ISSUER_UNREACHABLE: 503,
  ISSUER_REFUSED: 403,
  ISSUER_REJECTED: 502,
  ISSUER_RATE_LIMITED: 429,
  ISSUER_RESPONSE_INVALID: 502,
  ISSUER_SOURCE_UNAVAILABLE: 503,
  UNAVAILABLE: 503,
  CSRF_TOKEN_INVALID: 403,
  RATE_LIMITED: 429,
  INTERNAL: 500,
};

/** A request as the onRequest hook (main.ts) leaves it: with the writes the database confirmed for it. */
export interface RequestWithWrites {
  confirmedWrites?: ConfirmedWrites;
}

/** Seconds a client should wait before retrying a request refused with UNAVAILABLE (503). */
export const RETRY_AFTER_SECONDS = 2;

interface FastifyReplyLike {
  status(code: number): FastifyReplyLike;
  header(name: string, value: string): FastifyReplyLike;
  send(body: unknown): void;
}

/**
 * Every HTTP error leaves as `{"error": {code, message, field?, rule?, reason?, correlationId}}`.
 * Unexpected errors become 500 INTERNAL; their text stays in our log, never in the response.
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReplyLike>();
    const req = ctx.getRequest<RequestWithWrites & { headers: Record<string, string | undefined>; method: string; url: string; body?: unknown }>();
    // A lost database connection is not our bug: 503 UNAVAILABLE with Retry-After, never 500; and
    // DATABASE_COMMIT_UNKNOWN, not "nothing was stored", once the request had stored something.
    exception = databaseFaultAfterWrites(exception, req.confirmedWrites);
    const correlationId = req.headers['x-correlation-id'] ?? randomUUID();
    const { status, body } = this.describe(exception, correlationId, req);
    // An oversized body is still arriving (drained by limitedBodyParser): closing now would reset the
    // connection under the client's feet and lose this answer, even for a client that sent
    // `Connection: close`. The drain closes the socket once the client is done (or past its bounds).
    if (isTooLarge(req.body)) reply.header('connection', 'keep-alive');
    reply.status(status).header('x-correlation-id', correlationId);
    // Nothing was stored: tell clients (and proxies) when trying again makes sense.
    if (exception instanceof DomainException && exception.code === 'UNAVAILABLE') reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    if (exception instanceof DomainException && exception.details.retryAfterSeconds !== undefined) reply.header('retry-after', String(exception.details.retryAfterSeconds));
    reply.send({ error: body });
  }

  private describe(e: unknown, correlationId: string, req: { method: string; url: string }): { status: number; body: Record<string, unknown> } {
    if (e instanceof DomainException) {
      return { status: HTTP_STATUS[e.code], body: { code: e.code, message: e.message, ...e.details, correlationId } };
    }
    const fastifyCode = (e as { code?: string }).code;
    const statusCode = (e as { statusCode?: number }).statusCode;
    if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE' || statusCode === 413) {
      return { status: 413, body: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large', correlationId } };
    }
    if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return { status: 400, body: { code: 'VALIDATION_FAILED', message: 'content-type is not accepted on this route', field: 'content-type', rule: 'ONE_OF', correlationId } };
    }
    if ((typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_ERR_CTP')) || (statusCode === 400 && e instanceof SyntaxError)) {
      return { status: 400, body: { code: 'VALIDATION_FAILED', message: 'request body must be valid JSON (application/json)', field: '(body)', rule: 'JSON', correlationId } };
    }
    if (e instanceof HttpException) {
      const status = e.getStatus();
      if (status === 413) return { status, body: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is too large', correlationId } };
      // Fastify's body errors reach us as plain HttpExceptions (Nest maps them): name the field.
      if (status === 415) return { status, body: { code: 'VALIDATION_FAILED', message: 'content-type is not accepted on this route', field: 'content-type', rule: 'ONE_OF', correlationId } };
      if (status === 400 && req.method !== 'GET') return { status, body: { code: 'VALIDATION_FAILED', message: e.message, field: '(body)', rule: 'INVALID', correlationId } };
      const code: ErrorCode = status === 404 ? 'NOT_FOUND' : status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : status === 400 ? 'VALIDATION_FAILED' : 'INTERNAL';
      const message = status === 404 ? `no route ${req.method} ${req.url.split('?')[0]}` : e.message;
      return { status, body: { code, message, correlationId } };
    }
    this.logger.error(`[${correlationId}] ${req.method} ${req.url.split('?')[0]}: ${(e as Error)?.stack ?? String(e)}`);
    return { status: 500, body: { code: 'INTERNAL', message: 'internal error; quote the correlation id to the operator', correlationId } };
  }
}
