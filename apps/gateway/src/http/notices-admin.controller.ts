import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access } from '@tongban/access';
import { QueryParam, ValidQuery, querySchema } from '@tongban/common';
import { LicenceSubscriptions } from '@tongban/notices';
import { ApiErrors } from '@tongban/observability';

const LIST = { type: 'object', properties: { subscriptions: { type: 'array', items: { type: 'object' } } } };
const ISSUER_QUERY = querySchema({
  peer: QueryParam.text(/^\d{6}$/, 'a 6-digit participant code').optional(),
  licenceId: QueryParam.text(/^[0-9A-Za-z.]{1,128}$/, 'a GB/T 36904 licence identifier').optional(),
  limit: QueryParam.int(1, 1000).optional(),
});

/** Admin read of the subscriptions peers hold at this issuer. */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiErrors(401, 403)
@Controller('admin/licence-subscriptions')
export class NoticesAdminController {
  constructor(private readonly subscriptions: LicenceSubscriptions) {}

  @Access.roles('admin', 'operator', 'auditor')
  @Get()
  @ApiOperation({ summary: 'Live subscriptions peers hold here (issuer side), newest first; filter by peer or licence' })
  @ApiQuery({ name: 'peer', required: false })
  @ApiQuery({ name: 'licenceId', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000, default 100' })
  @ApiResponse({ status: 200, schema: LIST })
  @ValidQuery(ISSUER_QUERY)
  @ApiErrors(400)
  list(@Query('peer') peer?: string, @Query('licenceId') licenceId?: string, @Query('limit') limit?: number) {
    return this.subscriptions.list({ peer, licenceId, limit });
  }
}
