import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, openApiSchemaOf } from '@tongban/observability';
import { WebhookService, registerWebhookSchema } from '@tongban/webhooks';
import { Access } from '@tongban/access';
import { Ctx, RequestContext } from './request-context';

/** Local API for local systems' webhooks (case and task events, signed). */
@ApiTags('webhooks')
@ApiBearerAuth('api')
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhookService) {}

  @Access.scope('cases')
  @Post()
  @ApiOperation({ summary: 'Register a webhook for case and task events (HMAC-signed with the secret; retried with backoff)' })
  @ApiBody({
    schema: openApiSchemaOf(
      registerWebhookSchema,
      'url must be https in production and reach a public address (loopback, private, link-local and metadata addresses are refused unless TONGBAN_WEBHOOK_ALLOW_CIDRS allows them); secret is generated when omitted and shown only in this answer',
    ),
    examples: {
      stepsOfThisProvince: {
        summary: 'Step events and case closures',
        value: { url: 'https://hall.example.gov.cn/tongban/events', events: ['STEP_*', 'CASE_CLOSED'], secret: 'hall-webhook-secret-2026-11' },
      },
    },
  })
  @ApiResponse({
    status: 201,
    schema: { type: 'object', properties: { id: { type: 'string' }, url: { type: 'string' }, events: { type: 'array', items: { type: 'string' } }, secret: { type: 'string' } } },
    example: { id: '0b6f2c9e-4c1a-4f7e-9d2b-5a8e7c6d1f30', url: 'https://hall.example.gov.cn/tongban/events', events: ['STEP_*', 'CASE_CLOSED'], secret: 'hall-webhook-secret-2026-11' },
  })
  @ApiErrors(400, 401, 409)
  register(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.webhooks.register(body, ctx.caller);
  }

  @Access.scope('cases')
  @Get()
  @ApiOperation({ summary: "The calling client's webhooks, oldest first (secrets are never shown again; other clients' webhooks are not listed)" })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { webhooks: { type: 'array', items: { type: 'object' } } } } })
  @ApiErrors(401)
  list(@Ctx() ctx: RequestContext) {
    return this.webhooks.list(ctx.caller);
  }

  @Access.scope('cases')
  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: "Delete one of the calling client's webhooks (another client's is 404); its undelivered deliveries are parked as DEAD" })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiErrors(401, 404)
  remove(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.webhooks.remove(id, ctx.caller, ctx.caller);
  }
}
