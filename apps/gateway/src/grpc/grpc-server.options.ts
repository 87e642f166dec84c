import { ReflectionService } from '@grpc/reflection';
import { GrpcOptions, Transport } from '@nestjs/microservices';
import { HealthImplementation } from 'grpc-health-check';
import { GatewayConfig } from '@tongban/config';
import { TransportSecurity } from '@tongban/tls';
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
      onLoadPackageDefinition: (pkg, server) => {
        health.addToServer(server);
        if (config.grpc.reflection) new ReflectionService(pkg).addToServer(server);
      },
    },
  };
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
