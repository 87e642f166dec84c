import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access } from '@tongban/access';
import { LicenceStatusAdmin } from '@tongban/licences';
import { ApiErrors } from '@tongban/observability';
import { Ctx, RequestContext } from './request-context';

const REASON_BODY = ApiBody({
  schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 200 } }, additionalProperties: false },
  examples: { order: { summary: 'An administrative decision', value: { reason: '京市监处字〔2026〕12号 decision' } } },
});
const VIEW = {
  status: 200,
  example: {
    licenceId: '1.2.156.3005.2.11100000000013127D001.11100000000013127D.0000000001.001.8',
    status: 'REVOKED',
    previous: 'VALID',
    version: 1,
    changedAt: '2026-12-03T09:00:00.000Z',
    changed: true,
  },
};
const ID = ApiParam({ name: 'licenceId', description: 'GB/T 36904 licence identifier' });

/** Admin API: suspend, reinstate and revoke licences of this province's registry (issue 12). */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiErrors(401, 403)
@Controller('admin/licences')
export class LicenceStatusController {
  constructor(private readonly admin: LicenceStatusAdmin) {}

  @Access.roles('admin', 'operator', 'auditor')
  @Get(':licenceId/status')
  @ApiOperation({ summary: "A licence's current status, its status version and the time of its last change" })
  @ID
  @ApiResponse(VIEW)
  @ApiErrors(400, 404)
  show(@Param('licenceId') licenceId: string) {
    return this.admin.show(licenceId);
  }

  @Access.roles('admin', 'operator')
  @Post(':licenceId/suspend')
  @ApiOperation({ summary: 'Suspend a licence (audited; status lists and subscribers follow)' })
  @ID
  @REASON_BODY
  @ApiResponse(VIEW)
  @ApiErrors(400, 404, 409)
  @HttpCode(200)
  suspend(@Param('licenceId') licenceId: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.admin.apply('suspend', licenceId, body, ctx.caller, ctx.correlationId);
  }

  @Access.roles('admin', 'operator')
  @Post(':licenceId/reinstate')
  @ApiOperation({ summary: 'Reinstate a suspended licence (audited; a revoked one cannot be: 409 REVOKED_IS_FINAL)' })
  @ID
  @REASON_BODY
  @ApiResponse(VIEW)
  @ApiErrors(400, 404, 409)
  @HttpCode(200)
  reinstate(@Param('licenceId') licenceId: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.admin.apply('reinstate', licenceId, body, ctx.caller, ctx.correlationId);
  }

  @Access.roles('admin', 'operator')
  @Post(':licenceId/revoke')
  @ApiOperation({ summary: 'Revoke a licence, finally (audited; status lists and subscribers follow)' })
  @ID
  @REASON_BODY
  @ApiResponse(VIEW)
  @ApiErrors(400, 404, 409)
  @HttpCode(200)
  revoke(@Param('licenceId') licenceId: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.admin.apply('revoke', licenceId, body, ctx.caller, ctx.correlationId);
  }
}
