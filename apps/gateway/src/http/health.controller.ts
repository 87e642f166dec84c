import { Access } from '@tongban/access';
import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Readiness } from '@tongban/observability';

interface ReplyLike {
  status(code: number): ReplyLike;
}

const CHECKS = {
  type: 'object',
  properties: {
    database: { type: 'string', enum: ['ok', 'timeout', 'error'], description: '`SELECT 1` answered within 1 s at the last background check (every 2 s)' },
    keys: { type: 'string', enum: ['ok', 'no_active_key'], description: 'The key store holds an ACTIVE signing key' },
    shutdown: { type: 'string', enum: ['ok', 'shutting_down'], description: 'SIGTERM/SIGINT has not been received' },
  },
};

/** Unauthenticated probes for orchestrators and load balancers. */
@ApiTags('operations')
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: Readiness) {}

  @Access.public()
  @Get('live')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Liveness: the process is up and its HTTP server answers (nothing else is checked)' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } }, example: { status: 'ok' } })
  live() {
    return { status: 'ok' };
  }

  @Access.public()
  @Get('ready')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Readiness: database answers, an active signing key, not shutting down' })
  @ApiResponse({
    status: 200,
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, checks: CHECKS } },
    example: { status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok' } },
  })
  @ApiResponse({
    status: 503,
    description: 'Not ready: take this replica out of the load balancer (it goes 503 first thing on SIGTERM)',
    schema: { type: 'object', properties: { status: { type: 'string', enum: ['not_ready'] }, checks: CHECKS } },
    example: { status: 'not_ready', checks: { database: 'ok', keys: 'ok', shutdown: 'shutting_down' } },
  })
  async ready(@Res({ passthrough: true }) reply: ReplyLike) {
    const report = await this.readiness.current();
    if (report.status !== 'ok') reply.status(503);
    return report;
  }
}
