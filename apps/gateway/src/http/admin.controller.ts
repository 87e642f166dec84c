import { Body, Controller, Get, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { KeyStore } from '@tongban/keys';
import { TrustStore } from '@tongban/trust';
import { ApiTokenGuard, RequiresToken } from './api-token.guard';
import { Ctx, RequestContext } from './request-context';

/** Admin API: peers and their keys, own public keys, the audit trail. */
@Controller('admin')
@UseGuards(ApiTokenGuard)
@RequiresToken('admin')
export class AdminController {
  constructor(
    private readonly trust: TrustStore,
    private readonly keys: KeyStore,
    private readonly audit: AuditLog,
  ) {}

  @Get('peers')
  listPeers() {
    return { peers: this.trust.list() };
  }

  @Post('peers')
  createPeer(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.create(body, ctx.caller);
  }

  @Get('peers/:code')
  getPeer(@Param('code') code: string) {
    return this.trust.get(code);
  }

  @Patch('peers/:code')
  updatePeer(@Param('code') code: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.update(code, body, ctx.caller);
  }

  @Post('peers/:code/keys')
  addPeerKey(@Param('code') code: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.addKey(code, body, ctx.caller);
  }

  @Patch('peers/:code/keys/:kid')
  setPeerKeyStatus(@Param('code') code: string, @Param('kid') kid: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.setKeyStatus(code, kid, body, ctx.caller);
  }

  @Get('keys')
  listKeys() {
    return { keys: this.keys.list() };
  }

  @Get('audit')
  listAudit(@Query('event') event?: string, @Query('limit') limit?: string, @Query('after') after?: string) {
    return this.audit.list({ event, limit: limit ? Number(limit) : undefined, afterSeq: after ? Number(after) : undefined }).then((events) => ({ events }));
  }
}
