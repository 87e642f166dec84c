import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, Query, UseGuards } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { CatalogueStore } from '@tongban/catalogue';
import { OutboxAdmin } from '@tongban/delivery';
import { KeyAdmin } from '@tongban/key-admin';
import { ClientRegistry } from '@tongban/access';
import { KeyStore } from '@tongban/keys';
import { MaterialTransferAdmin } from '@tongban/materials';
import { TrustStore } from '@tongban/trust';
import { WebhookService } from '@tongban/webhooks';
import { ApiTokenGuard, RequiresToken } from './api-token.guard';
import { Ctx, RequestContext } from './request-context';

/** Admin API: peers and their keys, own public keys, the audit trail, delivery queues. */
@Controller('admin')
@UseGuards(ApiTokenGuard)
@RequiresToken('admin')
export class AdminController {
  constructor(
    private readonly trust: TrustStore,
    private readonly keys: KeyStore,
    private readonly keyAdmin: KeyAdmin,
    private readonly clients: ClientRegistry,
    private readonly audit: AuditLog,
    private readonly outbox: OutboxAdmin,
    private readonly catalogue: CatalogueStore,
    private readonly transfers: MaterialTransferAdmin,
    private readonly webhooks: WebhookService,
  ) {}

  @Get('material-transfers')
  listMaterialTransfers(@Query('status') status?: string, @Query('limit') limit?: string) {
    return this.transfers.list(status, limit ? Number(limit) : 100).then((transfers) => ({ transfers }));
  }

  @Get('webhook-deliveries')
  listWebhookDeliveries(@Query('status') status?: string, @Query('limit') limit?: string) {
    return this.webhooks.deliveries(status, limit ? Number(limit) : 100).then((deliveries) => ({ deliveries }));
  }

  @Get('outbox')
  listOutbox(@Query('status') status?: string, @Query('limit') limit?: string) {
    return this.outbox.list(status, limit ? Number(limit) : 100).then((messages) => ({ messages }));
  }

  @Get('outbox/depth')
  outboxDepth() {
    return this.outbox.depth().then((depth) => ({ depth }));
  }

  @Post('outbox/:id/requeue')
  @HttpCode(200)
  async requeue(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    const view = await this.outbox.requeue(id);
    await this.audit.recordNow({ event: 'admin.outbox.requeued', actor: ctx.caller, subject: id, outcome: 'OK' });
    return view;
  }

  @Get('catalogue')
  getCatalogue() {
    return this.catalogue.catalogue().toJSON();
  }

  @Put('catalogue')
  async loadCatalogue(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    const c = await this.catalogue.loadCatalogue(body, ctx.caller);
    await this.audit.recordNow({ event: 'admin.catalogue.loaded', actor: ctx.caller, subject: c.version, outcome: 'OK' });
    return { version: c.version, items: c.items().length };
  }

  @Get('calendar')
  getCalendar() {
    return this.catalogue.calendar().toJSON();
  }

  @Put('calendar')
  async loadCalendar(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    const c = await this.catalogue.loadCalendar(body, ctx.caller);
    await this.audit.recordNow({ event: 'admin.calendar.loaded', actor: ctx.caller, subject: c.version, outcome: 'OK' });
    return { version: c.version };
  }

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

  @Get('clients')
  listClients() {
    return this.clients.list().then((clients) => ({ clients }));
  }

  @Post('clients')
  createClient(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.clients.create(body, ctx.caller);
  }

  @Post('clients/:id/disable')
  @HttpCode(200)
  disableClient(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.clients.disable(id, ctx.caller).then(() => ({ disabled: id }));
  }

  @Get('keys')
  listKeys() {
    return { keys: this.keys.list() };
  }

  @Post('keys/rotate')
  @HttpCode(200)
  rotateKey(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.keyAdmin.rotate(body, ctx.caller).then((keys) => ({ keys }));
  }

  @Post('keys/:kid/revoke')
  @HttpCode(200)
  revokeKey(@Param('kid') kid: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.keyAdmin.revoke(kid, body, ctx.caller).then((keys) => ({ keys }));
  }

  @Get('audit')
  listAudit(@Query('event') event?: string, @Query('limit') limit?: string, @Query('after') after?: string) {
    return this.audit.list({ event, limit: limit ? Number(limit) : undefined, afterSeq: after ? Number(after) : undefined }).then((events) => ({ events }));
  }
}
