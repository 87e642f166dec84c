import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access } from '@tongban/access';
import { QueryParam, ValidQuery, querySchema } from '@tongban/common';
import { ApiErrors, MetricsHistory } from '@tongban/observability';
import { Overview } from './overview';

const HISTORY_QUERY = querySchema({ minutes: QueryParam.int(1, 1440).optional() });

/** Data of the console's overview page and its charts (docs/operations.md §20.6). */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiCookieAuth('console')
@ApiErrors(401, 403)
@Controller('admin')
export class OverviewController {
  constructor(
    private readonly overview: Overview,
    @Inject(MetricsHistory) private readonly history: MetricsHistory,
  ) {}

  @Access.roles('admin', 'operator', 'auditor')
  @Get('overview')
  @ApiOperation({
    summary:
      "This gateway at a glance: readiness, each peer's last success and failure seen by this replica, outbox depth and oldest age, dead letters, overdue cases, own keys with age and next rotation, directory, TLS certificate, and warnings (docs/operations.md §20.6)",
  })
  @ApiResponse({ status: 200, description: 'See docs/operations.md §20.6 for every field' })
  get() {
    return this.overview.view();
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('metrics/history')
  @ValidQuery(HISTORY_QUERY)
  @ApiQuery({ name: 'minutes', required: false, description: '1–1440, default 60' })
  @ApiOperation({ summary: 'Per-minute history kept in memory by this replica (since its start): verifications/s, refusals/s by code, p99 of peer calls, outbox depth' })
  @ApiResponse({ status: 200, description: '{replica, stepS, points: [{at, seconds, partial, verificationsPerS, refusalsPerS: {code: n}, p99LatencyMs, outboxDepth}]}' })
  @ApiErrors(400)
  async getHistory(@Query('minutes') minutes?: number) {
    return { replica: 'this replica only, in memory since its start', stepS: 60, minutes: minutes ?? 60, points: await this.history.history(minutes ?? 60) };
  }
}
