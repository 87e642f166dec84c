import type { Server } from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, ServerGrpc, Transport } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import { GatewayConfig } from '@tongban/config';
import { TransportSecurity } from '@tongban/tls';
import { LoggerService } from '@nestjs/common';
import { Metrics } from '@tongban/observability';
import { FEDERATION_PACKAGE, FEDERATION_PROTO_FILES, protoRoot } from '@tongban/proto';

/**
 * The federation port: FederationService, grpc.health.v1 and (outside production) reflection,
 * over mutual TLS (or plaintext behind the development flag).
 */
export function grpcServerOptions(config: GatewayConfig, health: HealthImplementation, transport: TransportSecurity): GrpcOptions {
  return {
    transport: Transport.GRPC,
    options: {
      url: `${config.grpc.host}:${config.grpc.port}`,
      credentials: transport.serverCredentials(),
      package: FEDERATION_PACKAGE,
      protoPath: FEDERATION_PROTO_FILES,
      loader: { includeDirs: [protoRoot()], keepCase: false, longs: String, enums: String, defaults: true, oneofs: true },
      // The transport admits up to twice the payload limit so that an oversized payload is
      // refused with PAYLOAD_TOO_LARGE (and audited); beyond that grpc-js cuts it off itself.
      maxReceiveMessageLength: 2 * config.maxPayloadBytes + 64 * 1024,
      maxSendMessageLength: config.maxPayloadBytes + 64 * 1024,
      gracefulShutdown: true,
      onLoadPackageDefinition: (pkg: PackageDefinition, server: Server) => {
        health.addToServer(server);
        if (config.grpc.reflection) new ReflectionService(pkg).addToServer(server);
      },
    },
  };
}

/** Nest's gRPC server, with the grpc-js Server it runs made visible (to watch its TLS listeners). */
export class FederationGrpcServer extends ServerGrpc {
  get grpcServer(): unknown {
    // Nest types its grpc-js Server as `any`; callers treat it as unknown and check its shape.
    return this.grpcClient as unknown;
  }
}

/**
 * Counts refused TLS handshakes on the federation port (`tongban_tls_handshake_failures_total`)
 * and logs them, at most one line per 10 s with the number left out. Call after the port started.
 */
export function watchHandshakes(grpcServer: unknown, transport: TransportSecurity, metrics: Metrics, logger: LoggerService): void {
  let lastLog = 0;
  let unlogged = 0;
  const watched = transport.observeHandshakes(grpcServer, (reason, remote) => {
    metrics.tlsHandshakeFailure(reason);
    const now = Date.now();
    if (now - lastLog < 10_000) {
      unlogged++;
      return;
    }
    logger.warn(`TLS handshake from ${remote} refused: ${reason}${unlogged ? ` (and ${unlogged} more since the last such line)` : ''}`, 'Transport');
    lastLog = now;
    unlogged = 0;
  });
  if (transport.secure && watched === 0) logger.warn('refused TLS handshakes cannot be counted: the gRPC server does not expose its listeners as expected', 'Transport');
}

/** Health statuses served on the federation port. */
export function createHealth(): HealthImplementation {
  return new HealthImplementation({ '': 'NOT_SERVING', [`${FEDERATION_PACKAGE}.FederationService`]: 'NOT_SERVING' });
}

/** Marks every service SERVING (after boot) or NOT_SERVING (first step of shutdown). */
export function setServing(health: HealthImplementation, serving: boolean): void {
  const s = serving ? 'SERVING' : 'NOT_SERVING';
  health.setStatus('', s);
  health.setStatus(`${FEDERATION_PACKAGE}.FederationService`, s);
}
