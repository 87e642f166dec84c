import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { WebhookService } from '@tongban/webhooks';
import { ApiTokenGuard, RequiresToken } from './api-token.guard';
import { Ctx, RequestContext } from './request-context';

/** Local API for local systems' webhooks (case and task events, signed). */
@Controller('v1/webhooks')
@UseGuards(ApiTokenGuard)
@RequiresToken('api')
export class WebhooksController {
  constructor(private readonly webhooks: WebhookService) {}

  @Post()
  register(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.webhooks.register(body, ctx.caller);
  }

  @Get()
  list() {
    return this.webhooks.list();
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.webhooks.remove(id, ctx.caller);
  }
}
