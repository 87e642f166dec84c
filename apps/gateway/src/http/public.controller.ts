import { Controller, Get, Header, Inject } from '@nestjs/common';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { GATEWAY_CONFIG } from '../gateway.providers';

/** Unauthenticated endpoints: the public JWKS and a liveness answer. */
@Controller()
export class PublicController {
  constructor(
    private readonly keys: KeyStore,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Get('.well-known/jwks.json')
  @Header('cache-control', 'public, max-age=300')
  jwks() {
    return this.keys.jwks();
  }

  @Get('health')
  health() {
    return { status: 'ok', code: this.config.code };
  }
}
