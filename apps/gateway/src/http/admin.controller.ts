import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuditLog } from '@tongban/audit';
import { CatalogueStore } from '@tongban/catalogue';
import { OutboxAdmin } from '@tongban/delivery';
import { KeyAdmin } from '@tongban/key-admin';
import { ClientRegistry } from '@tongban/access';
import { KeyStore } from '@tongban/keys';
import { MaterialTransferAdmin } from '@tongban/materials';
import { QueryParam, ValidQuery, querySchema } from '@tongban/common';
import { ApiErrors, openApiSchemaOf } from '@tongban/observability';
import { TrustStore, createPeerSchema, publicJwkSchema, updatePeerKeySchema, updatePeerSchema } from '@tongban/trust';
import { WebhookService } from '@tongban/webhooks';
import { DirectoryService } from '@tongban/directory';
import { TransportSecurity } from '@tongban/tls';
import { Access } from '@tongban/access';
import { Ctx, RequestContext } from './request-context';

// OpenAPI examples (河北's gateway seen from another province; the key is a made-up Ed25519 JWK).
const PEER_KEY = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k', alg: 'EdDSA', use: 'sig' };
const STATUS_QUERY = (values: string[]) => ApiQuery({ name: 'status', required: false, enum: values });
const LIMIT_QUERY = ApiQuery({ name: 'limit', required: false, description: '1–1000, default 100' });
// Query schemas of the admin lists (@ValidQuery): a bad or repeated parameter is a 400 naming it.
const QUEUE_QUERY = querySchema({ status: QueryParam.oneOf(['PENDING', 'DELIVERED', 'DEAD']).optional(), limit: QueryParam.int(1, 1000).optional() });
const AUDIT_QUERY = querySchema({
  event: QueryParam.text(/^[a-z][a-z0-9_.]{0,63}$/, 'an audit event name').optional(),
  limit: QueryParam.int(1, 1000).optional(),
  after: QueryParam.int(0, Number.MAX_SAFE_INTEGER).optional(),
});
const LIST = (key: string) => ({ type: 'object', properties: { [key]: { type: 'array', items: { type: 'object' } } } });

/** Admin API: peers and their keys, own public keys, the audit trail, delivery queues. */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiErrors(401, 403)
@Controller('admin')
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
    private readonly directory: DirectoryService,
    private readonly transport: TransportSecurity,
  ) {}

  @Access.roles('admin', 'operator', 'auditor')
  @Get('tls')
  @ApiOperation({ summary: "The federation transport: mtls or insecure (development flag); this gateway's certificate (participant, validity, SHA-256), the trusted CAs and the last reload" })
  @ApiResponse({
    status: 200,
    example: {
      mode: 'mtls',
      participant: '110000',
      notBefore: '2026-11-25T00:00:00.000Z',
      notAfter: '2027-02-23T00:00:00.000Z',
      fingerprint: '9f2c…',
      trustedCas: ['CN=Tongban federation CA, O=Tongban federation'],
      lastReloadAt: '2026-11-25T08:00:00.000Z',
      lastReloadError: null,
    },
  })
  getTls() {
    return this.transport.status();
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('directory')
  @ApiOperation({ summary: 'The federation directory in use: mode (off, ok, degraded, expired), serial, validity, grace, last error and participants' })
  @ApiResponse({
    status: 200,
    example: {
      mode: 'ok',
      serial: 12,
      notAfter: '2026-12-25T08:00:00.000Z',
      graceUntil: '2027-01-01T08:00:00.000Z',
      lastError: null,
      source: 'https://directory.example.gov.cn/directory.jws',
      participants: [],
    },
  })
  getDirectory() {
    return this.directory.view();
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('material-transfers')
  @ApiOperation({ summary: 'Case material transfers to peers (their own queue, not the outbox)' })
  @STATUS_QUERY(['PENDING', 'DELIVERED', 'DEAD'])
  @LIMIT_QUERY
  @ApiResponse({ status: 200, schema: LIST('transfers') })
  @ValidQuery(QUEUE_QUERY)
  @ApiErrors(400)
  listMaterialTransfers(@Query('status') status?: string, @Query('limit') limit?: number) {
    return this.transfers.list(status, limit ?? 100).then((transfers) => ({ transfers }));
  }

  @Access.roles('admin', 'operator')
  @Post('material-transfers/:materialId/:peer/requeue')
  @ApiOperation({ summary: 'Put a DEAD material transfer back in the queue, to be pushed now (audited)' })
  @ApiResponse({ status: 200, description: 'The transfer, now PENDING' })
  @ApiErrors(404, 409)
  @HttpCode(200)
  async requeueMaterialTransfer(@Param('materialId') materialId: string, @Param('peer') peer: string, @Ctx() ctx: RequestContext) {
    const view = await this.transfers.requeue(materialId, peer);
    await this.audit.recordNow({ event: 'admin.material_transfer.requeued', actor: ctx.caller, subject: `${materialId}/${peer}`, outcome: 'OK' });
    return view;
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('webhooks')
  @ApiOperation({ summary: 'Every webhook of every local API client, oldest first (createdBy = the owning client; secrets never shown)' })
  @ApiResponse({ status: 200, schema: LIST('webhooks') })
  listWebhooks() {
    return this.webhooks.list(null);
  }

  @Access.roles('admin', 'operator')
  @Delete('webhooks/:id')
  @HttpCode(204)
  @ApiOperation({ summary: "Delete any client's webhook; its undelivered deliveries are parked as DEAD (audited admin.webhook.deleted)" })
  @ApiResponse({ status: 204, description: 'Deleted' })
  @ApiErrors(404)
  removeWebhook(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.webhooks.remove(id, null, ctx.caller);
  }

  @Access.roles('admin', 'operator')
  @Post('webhook-deliveries/:id/requeue')
  @ApiOperation({ summary: 'Put a DEAD webhook delivery back in the queue, to be sent now with a fresh attempt budget (audited)' })
  @ApiResponse({ status: 200, description: 'The delivery, now PENDING' })
  @ApiErrors(404, 409)
  @HttpCode(200)
  async requeueWebhookDelivery(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    const view = await this.webhooks.requeue(id);
    await this.audit.recordNow({ event: 'admin.webhook_delivery.requeued', actor: ctx.caller, subject: id, outcome: 'OK' });
    return view;
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('webhook-deliveries')
  @ApiOperation({ summary: 'Webhook deliveries to local systems (bodies omitted)' })
  @STATUS_QUERY(['PENDING', 'DELIVERED', 'DEAD'])
  @LIMIT_QUERY
  @ApiResponse({ status: 200, schema: LIST('deliveries') })
  @ValidQuery(QUEUE_QUERY)
  @ApiErrors(400)
  listWebhookDeliveries(@Query('status') status?: string, @Query('limit') limit?: number) {
    return this.webhooks.deliveries(status, limit ?? 100).then((deliveries) => ({ deliveries }));
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('outbox')
  @ApiOperation({ summary: 'Outbox messages to peers, oldest first (default: not yet delivered; bodies omitted)' })
  @STATUS_QUERY(['PENDING', 'DELIVERED', 'DEAD'])
  @LIMIT_QUERY
  @ApiResponse({ status: 200, schema: LIST('messages') })
  @ValidQuery(QUEUE_QUERY)
  @ApiErrors(400)
  listOutbox(@Query('status') status?: string, @Query('limit') limit?: number) {
    return this.outbox.list(status, limit ?? 100).then((messages) => ({ messages }));
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('outbox/depth')
  @ApiOperation({ summary: 'Undelivered messages per status and peer, with the oldest creation time' })
  @ApiResponse({ status: 200, schema: LIST('depth'), example: { depth: [{ status: 'PENDING', peer: '130000', count: 3, oldest: '2026-11-25T02:00:00.000Z' }] } })
  outboxDepth() {
    return this.outbox.depth().then((depth) => ({ depth }));
  }

  @Access.roles('admin', 'operator')
  @Post('outbox/:id/requeue')
  @ApiOperation({ summary: 'Put a DEAD message back in the queue, to be sent now (audited)' })
  @ApiResponse({ status: 200, description: 'The message, now PENDING' })
  @ApiErrors(404, 409)
  @HttpCode(200)
  async requeue(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    const view = await this.outbox.requeue(id);
    await this.audit.recordNow({ event: 'admin.outbox.requeued', actor: ctx.caller, subject: id, outcome: 'OK' });
    return view;
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('catalogue')
  @ApiOperation({ summary: 'The current service catalogue (items and their workflows)' })
  getCatalogue() {
    return this.catalogue.catalogue().toJSON();
  }

  @Access.roles('admin')
  @Put('catalogue')
  @ApiOperation({ summary: 'Load a new catalogue version (immutable; a version string loads once); format in docs/protocol-cases.md §4' })
  @ApiBody({ schema: { type: 'object', required: ['version', 'items'], properties: { version: { type: 'string' }, items: { type: 'array', items: { type: 'object' } } } } })
  @ApiResponse({ status: 200, example: { version: '2026.12-1', items: 10 } })
  @ApiErrors(400, 409)
  async loadCatalogue(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    const c = await this.catalogue.loadCatalogue(body, ctx.caller);
    await this.audit.recordNow({ event: 'admin.catalogue.loaded', actor: ctx.caller, subject: c.version, outcome: 'OK' });
    return { version: c.version, items: c.items().length };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('calendar')
  @ApiOperation({ summary: 'The current working-day calendar' })
  getCalendar() {
    return this.catalogue.calendar().toJSON();
  }

  @Access.roles('admin')
  @Put('calendar')
  @ApiOperation({ summary: 'Load a new calendar version (replaces the current one); format in docs/protocol-cases.md §4' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['version', 'timezone', 'holidays', 'workdays'],
      properties: {
        version: { type: 'string' },
        timezone: { type: 'string', enum: ['Asia/Shanghai'] },
        holidays: { type: 'array', items: { type: 'string', format: 'date' } },
        workdays: { type: 'array', items: { type: 'string', format: 'date' } },
      },
    },
  })
  @ApiResponse({ status: 200, example: { version: '2027.1' } })
  @ApiErrors(400, 409)
  async loadCalendar(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    const c = await this.catalogue.loadCalendar(body, ctx.caller);
    await this.audit.recordNow({ event: 'admin.calendar.loaded', actor: ctx.caller, subject: c.version, outcome: 'OK' });
    return { version: c.version };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('peers')
  @ApiOperation({ summary: 'The trust store: every peer with its endpoint, status, policy and keys' })
  @ApiResponse({ status: 200, schema: LIST('peers') })
  listPeers() {
    return { peers: this.trust.list() };
  }

  @Access.roles('admin')
  @Post('peers')
  @ApiOperation({ summary: 'Trust a peer: its code, gRPC endpoint and public keys (obtained out of band; kid = RFC 7638 thumbprint)' })
  @ApiBody({ schema: openApiSchemaOf(createPeerSchema), examples: { hebei: { summary: '河北 with one Ed25519 key', value: { code: '130000', endpoint: 'gw.he.example:9013', keys: [PEER_KEY] } } } })
  @ApiResponse({ status: 201, description: 'The peer as stored' })
  @ApiErrors(400, 409)
  createPeer(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.create(body, ctx.caller);
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('peers/:code')
  @ApiOperation({ summary: 'One peer' })
  @ApiResponse({ status: 200, description: 'The peer' })
  @ApiParam({ name: 'code', example: '130000' })
  @ApiErrors(404)
  getPeer(@Param('code') code: string) {
    return this.trust.get(code);
  }

  @Access.roles('admin')
  @Patch('peers/:code')
  @ApiOperation({ summary: 'Change endpoint, name, status (ACTIVE/SUSPENDED) or policy of a peer' })
  @ApiResponse({ status: 200, description: 'The peer as stored' })
  @ApiParam({ name: 'code', example: '130000' })
  @ApiBody({
    schema: openApiSchemaOf(updatePeerSchema),
    examples: { move: { summary: 'New endpoint', value: { endpoint: 'gw2.he.example:9013' } }, suspend: { summary: 'Suspend', value: { status: 'SUSPENDED' } } },
  })
  @ApiErrors(400, 404)
  updatePeer(@Param('code') code: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.update(code, body, ctx.caller);
  }

  @Access.roles('admin')
  @Post('peers/:code/keys')
  @ApiOperation({ summary: 'Trust one more key of a peer' })
  @ApiResponse({ status: 201, description: 'The peer as stored' })
  @ApiParam({ name: 'code', example: '130000' })
  @ApiBody({ schema: openApiSchemaOf(publicJwkSchema, 'A public JWK: OKP/Ed25519 or EC/P-256; never with d'), examples: { ed25519: { summary: 'An Ed25519 key', value: PEER_KEY } } })
  @ApiErrors(400, 404, 409)
  addPeerKey(@Param('code') code: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.addKey(code, body, ctx.caller);
  }

  @Access.roles('admin')
  @Patch('peers/:code/keys/:kid')
  @ApiOperation({ summary: 'Retire or revoke a key of a peer' })
  @ApiResponse({ status: 200, description: 'The peer as stored' })
  @ApiParam({ name: 'code', example: '130000' })
  @ApiBody({ schema: openApiSchemaOf(updatePeerKeySchema), examples: { revoke: { summary: 'Revoke', value: { status: 'REVOKED' } } } })
  @ApiErrors(400, 404)
  setPeerKeyStatus(@Param('code') code: string, @Param('kid') kid: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.trust.setKeyStatus(code, kid, body, ctx.caller);
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('clients')
  listClients() {
    return this.clients.list().then((clients) => ({ clients }));
  }

  @Access.roles('admin')
  @Post('clients')
  createClient(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.clients.create(body, ctx.caller);
  }

  @Access.roles('admin')
  @Post('clients/:id/disable')
  @HttpCode(200)
  disableClient(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.clients.disable(id, ctx.caller).then(() => ({ disabled: id }));
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('keys')
  @ApiOperation({ summary: "This gateway's own keys with their status (public parts only)" })
  @ApiResponse({ status: 200, schema: LIST('keys') })
  listKeys() {
    return { keys: this.keys.list() };
  }

  @Access.roles('admin')
  @Post('keys/rotate')
  @ApiOperation({ summary: 'Rotate our signing key: announce a NEXT key to every peer, switch after the overlap (or at once)' })
  @ApiBody({
    schema: { type: 'object', properties: { immediate: { type: 'boolean', default: false }, overlapHours: { type: 'number', minimum: 0, maximum: 720 } }, additionalProperties: false },
    examples: { scheduled: { summary: 'Switch after 24 h of overlap', value: { overlapHours: 24 } } },
  })
  @ApiResponse({ status: 200, schema: LIST('keys') })
  @ApiErrors(400, 409)
  @HttpCode(200)
  rotateKey(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.keyAdmin.rotate(body, ctx.caller, ctx.correlationId).then((keys) => ({ keys }));
  }

  @Access.roles('admin')
  @Post('keys/:kid/revoke')
  @ApiOperation({ summary: 'Revoke one of our keys (announced to peers)' })
  @ApiBody({
    schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string', minLength: 1, maxLength: 200 } }, additionalProperties: false },
    examples: { compromise: { summary: 'Suspected compromise', value: { reason: 'suspected compromise of the signing host' } } },
  })
  @ApiResponse({ status: 200, schema: LIST('keys') })
  @ApiErrors(400, 404, 409)
  @HttpCode(200)
  revokeKey(@Param('kid') kid: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.keyAdmin.revoke(kid, body, ctx.caller, ctx.correlationId).then((keys) => ({ keys }));
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('audit')
  @ApiOperation({ summary: 'The audit trail, oldest first; page with after=<last seq>' })
  @ApiQuery({ name: 'event', required: false, example: 'federation.request.refused' })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000' })
  @ApiQuery({ name: 'after', required: false, description: 'Return events with seq greater than this' })
  @ApiResponse({ status: 200, schema: LIST('events') })
  @ValidQuery(AUDIT_QUERY)
  @ApiErrors(400)
  listAudit(@Query('event') event?: string, @Query('limit') limit?: number, @Query('after') after?: number) {
    return this.audit.list({ event, limit, afterSeq: after }).then((events) => ({ events }));
  }
}
