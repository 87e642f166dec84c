import 'reflect-metadata';
import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, GatewayConfig, loadGatewayConfig } from '@tongban/config';
import { MATERIAL_MEDIA_TYPES } from '@tongban/materials';
import { GatewayModule } from './gateway.module';
import { createHealth, grpcServerOptions, setServing } from './grpc/grpc-server.options';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

async function bootstrap(): Promise<void> {
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
  const logger = new ConsoleLogger({ prefix: `tongban-${config.code}`, logLevels: LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1), timestamp: true });
  for (const name of config.generated) logger.warn(`${name} is not set: using a development default (never do this in production)`, 'Config');

  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forConfig(config), new FastifyAdapter({ bodyLimit: 2 * 1024 * 1024 }), {
    logger,
    bufferLogs: true,
  });
  // Material uploads are raw files: handed over as a Buffer, up to the material limit.
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser([...MATERIAL_MEDIA_TYPES], { parseAs: 'buffer', bodyLimit: config.materialMaxBytes }, (_req: unknown, body: Buffer, done: (err: null, body: Buffer) => void) => done(null, body));
  const health = createHealth();
  app.connectMicroservice(grpcServerOptions(config, health), { inheritAppConfig: true });
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  await app.listen(config.http.port, config.http.host);
  setServing(health, true);
  const stop = () => setServing(health, false);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.log(`gateway ${config.code} ready: http://${config.http.host}:${config.http.port} grpc ${config.grpc.host}:${config.grpc.port} (${config.database.kind})`, 'Gateway');
  if (config.generated.includes('TONGBAN_API_TOKENS')) logger.warn(`development API token: ${config.apiClients[0].token}`, 'Config');
  if (config.generated.includes('TONGBAN_ADMIN_TOKEN')) logger.warn(`development admin token: ${config.adminToken}`, 'Config');
  process.send?.({ type: 'ready', code: config.code, http: config.http.port, grpc: config.grpc.port });
}

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

bootstrap().catch((e) => {
  process.stderr.write(`tongban gateway: failed to start: ${e?.message ?? e}\n`);
  process.exit(1);
});
