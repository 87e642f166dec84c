import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access } from '@tongban/access';
import { NoticeSubscriptions, standingSubscriptionSchema } from '@tongban/notices';
import { ApiErrors, openApiSchemaOf } from '@tongban/observability';
import { Ctx, RequestContext } from './request-context';

const LIST = (key: string) => ({ type: 'object', properties: { [key]: { type: 'array', items: { type: 'object' } } } });

/** Local API: the calling client's licence status subscriptions (docs/protocol-notices.md §5). */
@ApiTags('notices')
@ApiBearerAuth('api')
@Controller('v1/licence-subscriptions')
export class NoticesController {
  constructor(private readonly notices: NoticeSubscriptions) {}

  @Access.scope('verify')
  @Get()
  @ApiOperation({ summary: "The calling client's live subscriptions to licence status changes (made by verifications with notify: true or a standing subscription), newest first" })
  @ApiResponse({ status: 200, schema: LIST('subscriptions') })
  @ApiErrors(401)
  list(@Ctx() ctx: RequestContext) {
    return this.notices.list(ctx.caller);
  }

  @Access.scope('verify')
  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: "End one of the calling client's subscriptions here and at the issuer (another client's is 404)" })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiErrors(401, 404)
  unsubscribe(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.notices.unsubscribe(id, ctx.caller, ctx.correlationId);
  }

  @Access.scope('verify')
  @Post('standing')
  @ApiOperation({ summary: 'Standing subscription: every verification of this licence type by the calling client asks for notices (unless it says notify: false)' })
  @ApiBody({ schema: openApiSchemaOf(standingSubscriptionSchema), examples: { business: { summary: '营业执照', value: { licenceType: '11100000000013338W009' } } } })
  @ApiResponse({ status: 201, example: { id: '5b3c1d2e-7f80-4a9b-8c1d-2e3f4a5b6c7d', licenceType: '11100000000013338W009', createdAt: '2026-12-03T09:00:00.000Z' } })
  @ApiErrors(400, 401, 409)
  createStanding(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.notices.createStanding(body, ctx.caller);
  }

  @Access.scope('verify')
  @Get('standing')
  @ApiOperation({ summary: "The calling client's standing subscriptions, oldest first" })
  @ApiResponse({ status: 200, schema: LIST('standing') })
  @ApiErrors(401)
  listStanding(@Ctx() ctx: RequestContext) {
    return this.notices.listStanding(ctx.caller);
  }

  @Access.scope('verify')
  @Delete('standing/:id')
  @HttpCode(204)
  @ApiOperation({ summary: "End one of the calling client's standing subscriptions (the subscriptions it made stay until deleted or expired)" })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiErrors(401, 404)
  removeStanding(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.notices.removeStanding(id, ctx.caller);
  }
}
