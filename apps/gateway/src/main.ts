import 'reflect-metadata';
import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { accessDocumentProblems, RouteDeclarations } from '@tongban/access';
import { errorMessage, errorStack, useSharedAsyncResourceAccessor } from '@tongban/common';
import { ConfigError, GatewayConfig, loadGatewayConfig } from '@tongban/config';
import { Sm2Error, setSm2NativeMode, sm2Implementation } from '@tongban/gm';
import { MATERIAL_MEDIA_TYPES } from '@tongban/materials';
import { TlsMaterialError, TransportSecurity } from '@tongban/tls';
import {
  CORRELATION_HEADER,
  GatewayLogger,
  HealthListener,
  MemoryReleaseResult,
  Metrics,
  Readiness,
  ShutdownState,
  releaseStartupMemory,
  acceptCorrelationId,
  memoryReducerSingleGc,
  processMemoryReleasePort,
  setupOpenApi,
} from '@tongban/observability';
import { ConfirmedWrites, countingWrites } from '@tongban/persistence';
import { GatewayModule } from './gateway.module';
import { RequestWithWrites } from './http/http-error.filter';
import { MAX_PARAM_LENGTH, clientErrorHandler, frameworkErrors, jsonDecoder, limitedBodyParser, requestTimeouts } from './http/http-input';
import { FederationGrpcServer, createHealth, grpcServerOptions, setServing, watchHandshakes } from './grpc/grpc-server.options';
import { closeConnectionsWhenDraining, drainGrpc, drainHttp } from './drain';

const JSON_BODY_LIMIT = 2 * 1024 * 1024;
const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

async function bootstrap(): Promise<void> {
  // Fastify's body parser and http2's client request bind an AsyncResource per request; Node 20's
  // bind costs two util.deprecate calls each time (docs/performance.md, the asker's path).
  useSharedAsyncResourceAccessor();
  // After a burst of work V8's memory reducer runs two full GCs where the second frees next to nothing
  // (≈ 60–120 ms of CPU each on an idle gateway): one (docs/performance.md, "Twelfth session").
  memoryReducerSingleGc();
  let config: GatewayConfig;
  try {
    config = loadGatewayConfig(undefined, argValue('--config'));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tongban gateway: configuration error: ${e.message}\n`);
      process.exit(78);
    }
    throw e;
  }
  const logger = new GatewayLogger(config.code, config.logFormat, LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1));
  for (const name of config.generated) logger.warn(`${name} is not set: using a development default (never do this in production)`, 'Config');
  try {
    setSm2NativeMode(config.sm2Native);
  } catch (e) {
    if (!(e instanceof Sm2Error)) throw e;
    process.stderr.write(`tongban gateway: configuration error: ${e.message}\n`);
    process.exit(78);
  }
  logger.log(`SM2 computed by ${sm2Implementation() === 'native' ? 'the tongban-sm2 addon (native/sm2)' : "Node's OpenSSL"} (TONGBAN_SM2_NATIVE=${config.sm2Native})`, 'Crypto');
  // The federation transport: mutual TLS with checked files, or plaintext behind the development
  // flag (loudly, at every start). Without either the gateway does not start.
  if (config.transport.kind === 'unset') {
    process.stderr.write(`tongban gateway: configuration error: ${config.transport.problem}\n`);
    process.exit(78);
  }
  let transport: TransportSecurity;
  try {
    transport = new TransportSecurity(config.transport, config.code, config.env === 'production');
  } catch (e) {
    if (!(e instanceof TlsMaterialError)) throw e;
    process.stderr.write(`tongban gateway: configuration error: ${e.message}\n`);
    process.exit(78);
  }
  if (!transport.secure) {
    logger.warn('TONGBAN_GRPC_INSECURE=true: the federation port and calls to peers use PLAINTEXT gRPC with no TLS identity check (development only; refused in production)', 'Transport');
  }

  const app = await NestFactory.create<NestFastifyApplication>(
    GatewayModule.forConfig(config, transport),
    new FastifyAdapter({
      bodyLimit: JSON_BODY_LIMIT,
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      frameworkErrors: frameworkErrors as never,
      clientErrorHandler,
      ...requestTimeouts(config.http.requestTimeoutMs),
    }),
    {
      logger,
      bufferLogs: true,
      // Body parsers are ours (below): one bounded reader for JSON and files, no form bodies.
      bodyParser: false,
    },
  );
  // JSON bodies and material uploads (raw files, handed over as a Buffer) are read by one bounded
  // parser: a bad JSON body is VALIDATION_FAILED (body) JSON, an oversized one a readable 413.
  const fastify = app.getHttpAdapter().getInstance();
  const json = jsonDecoder(fastify.getDefaultJsonParser('error', 'error') as never);
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', limitedBodyParser(JSON_BODY_LIMIT, json) as never);
  fastify.addContentTypeParser([...MATERIAL_MEDIA_TYPES], limitedBodyParser(config.materialMaxBytes, (bytes) => bytes) as never);
  // Every request gets a well-formed correlation id (the caller's if valid, else a new one): it is
  // answered in the response header, logged, and forwarded to peers in gRPC metadata.
  app
    .getHttpAdapter()
    .getInstance()
    .addHook(
      'onRequest',
      (
        req: RequestWithWrites & { headers: Record<string, unknown>; routeOptions?: { config?: { countsNoWrites?: boolean } } },
        reply: { header(n: string, v: string): unknown; raw: { once(event: 'close', fn: () => void): unknown } },
        done: () => void,
      ) => {
        const id = acceptCorrelationId(req.headers[CORRELATION_HEADER]);
        req.headers[CORRELATION_HEADER] = id;
        reply.header(CORRELATION_HEADER, id);
        // The correlation id travels explicitly from here (the header, read by Ctx and the error
        // filter), never in async context. The writes the database confirms for this request are
        // counted so that a later 503 does not say "nothing was stored" when something was (read by
        // HttpErrorFilter from the request); not for routes that await no write of their own (the
        // verifications), which then run without Node's async hooks (confirmed-writes.ts).
        if (req.routeOptions?.config?.countsNoWrites) return done();
        const writes = (req.confirmedWrites = new ConfirmedWrites());
        // Fastify carries the scope through body parsing into the handler; it ends when the
        // response closes (sent or aborted).
        const counted = countingWrites(writes, done);
        reply.raw.once('close', counted.end);
      },
    );
  const shutdown = app.get(ShutdownState);
  fastify.addHook('onSend', closeConnectionsWhenDraining(shutdown) as never);
  const document = setupOpenApi(app, {
    title: `Tongban gateway ${config.code}`,
    description: 'Local API (/v1, API token) and admin API (/admin, admin token) of one province gateway. Errors: {"error": {code, message, field?, rule?, reason?, correlationId}}.',
    version: 'v1',
  });
  // The published contract says what each route needs; it must say what the guard enforces.
  const mismatch = accessDocumentProblems(document, app.get(RouteDeclarations).routes());
  if (mismatch.length) throw new Error(`the OpenAPI document and the route access declarations disagree:\n  ${mismatch.join('\n  ')}`);
  const health = createHealth();
  const federationPort = new FederationGrpcServer(grpcServerOptions(config, health, transport).options);
  app.connectMicroservice({ strategy: federationPort }, { inheritAppConfig: true });
  const readiness = app.get(Readiness);
  // Probes on a port of their own, answered by another thread: API load cannot delay them (§11).
  const healthListener = config.http.healthPort === null ? undefined : await HealthListener.start(config.http.host, config.http.healthPort);
  if (healthListener) readiness.subscribe((report) => healthListener.publish(report));
  let stopping = false;
  // Shutdown: not ready (HTTP 503, gRPC NOT_SERVING) and `Connection: close` on every answer first,
  // then a grace period for load balancers to notice, then the listeners stop and answer what is in
  // flight (operations.md §11), and only then Nest's shutdown hooks stop the services and close the
  // database (Nest alone would run the services' hooks while the listeners still take requests); the
  // signal is re-raised at the end so the exit looks as before.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    shutdown.begin();
    readiness.publish();
    setServing(health, false);
    logger.log(`${signal}: not ready; closing in ${config.shutdownGraceMs} ms`, 'Gateway');
    setTimeout(() => {
      Promise.all([drainHttp(app.getHttpServer()), drainGrpc(federationPort.grpcServer)])
        .then(() => Promise.all([app.close(), healthListener?.close()]))
        .then(
          () => {
            process.removeListener('SIGTERM', stop);
            process.removeListener('SIGINT', stop);
            process.kill(process.pid, signal);
          },
          (e: unknown) => {
            logger.error(`shutdown failed: ${errorStack(e)}`, 'Gateway');
            process.exit(1);
          },
        );
    }, config.shutdownGraceMs);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await app.startAllMicroservices();
  watchHandshakes(federationPort.grpcServer, transport, app.get(Metrics), logger);
  await app.listen(config.http.port, config.http.host);
  // Start-up's heap handed back before anything is routed here (the pause meets no traffic).
  if (config.memoryReleaseAfterStart) logMemoryRelease(logger, await releaseStartupMemory(processMemoryReleasePort()));
  // Ready only now that both ports accept: a balancer that polls the health port routes nothing to
  // this replica before (the listener's `listening` check; the API port's own probe cannot answer earlier).
  healthListener?.markListening();
  if (!stopping) setServing(health, true);
  logger.log(
    `gateway ${config.code} ready: http://${config.http.host}:${config.http.port}${healthListener ? ` health :${healthListener.port}` : ''} grpc ${config.grpc.host}:${config.grpc.port} (${transport.secure ? 'mutual TLS' : 'PLAINTEXT'}, ${config.database.kind})`,
    'Gateway',
  );
  if (config.generated.includes('TONGBAN_API_TOKENS')) logger.warn(`development API token: ${config.apiClients[0].token}`, 'Config');
  if (config.generated.includes('TONGBAN_ADMIN_TOKEN')) logger.warn(`development admin token: ${config.adminToken}`, 'Config');
  process.send?.({ type: 'ready', code: config.code, http: config.http.port, grpc: config.grpc.port });
}

function logMemoryRelease(logger: GatewayLogger, r: MemoryReleaseResult): void {
  const MiB = (b: number) => (b / 2 ** 20).toFixed(1);
  if (r.released) logger.log(`start-up memory released before ready (${r.by}): RSS ${MiB(r.rssBefore)} -> ${MiB(r.rssAfter)} MiB (${r.ms.toFixed(0)} ms)`, 'Memory');
  else if (r.reason === 'failed') logger.warn(`start-up memory release failed: ${r.detail ?? ''}`, 'Memory');
  else logger.log('start-up memory not released (no inspector in this Node build)', 'Memory');
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

bootstrap().catch((e: unknown) => {
  process.stderr.write(`tongban gateway: failed to start: ${errorMessage(e)}\n`);
  process.exit(1);
});
