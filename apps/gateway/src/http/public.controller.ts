import { Access } from '@tongban/access';
import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { DirectoryService } from '@tongban/directory';
import { TransportSecurity } from '@tongban/tls';
import { Metrics } from '@tongban/observability';
import { GATEWAY_CONFIG } from '../gateway.providers';

/** Unauthenticated endpoints: the public JWKS, a liveness answer and the Prometheus metrics. */
@ApiTags('operations')
@Controller()
export class PublicController {
  constructor(
    private readonly keys: KeyStore,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly metrics: Metrics,
    private readonly directory: DirectoryService,
    private readonly transport: TransportSecurity,
  ) {}

  @Access.public()
  @Get('.well-known/jwks.json')
  @Header('cache-control', 'public, max-age=300')
  @ApiOperation({ summary: "This gateway's public signing keys (never revoked ones)" })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { keys: { type: 'array', items: { type: 'object' } } } } })
  jwks() {
    return this.keys.jwks();
  }

  @Access.public()
  @Get('health')
  @ApiOperation({ summary: 'The HTTP server answers (kept for compatibility; probes use /health/live and /health/ready)' })
  @ApiResponse({ status: 200, example: { status: 'ok', code: '110000', transport: 'mtls' } })
  health() {
    // `directory` (ok, degraded, expired) only in directory mode: the answer is unchanged without it.
    const directory = this.directory.status().mode;
    // `transport`: mtls, or insecure when started with the development flag.
    return { status: 'ok', code: this.config.code, transport: this.transport.secure ? 'mtls' : 'insecure', ...(directory === 'off' ? {} : { directory }) };
  }

  @Access.public()
  @Get('metrics')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format); no token, labels never hold personal data' })
  @ApiProduces('text/plain')
  @ApiResponse({ status: 200, description: 'See docs/operations.md for the list of metrics' })
  async scrape(@Res({ passthrough: true }) reply: { header(name: string, value: string): unknown }) {
    reply.header('content-type', this.metrics.contentType);
    return this.metrics.render();
  }
}
