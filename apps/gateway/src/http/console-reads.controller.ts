import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access } from '@tongban/access';
import { AuditLog, latestAuditCheckpoints, searchAudit, verifyStoredAuditChain } from '@tongban/audit';
import { CaseQuery } from '@tongban/cases';
import { QueryParam, ValidQuery, querySchema } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { ApiErrors } from '@tongban/observability';
import { DataSource } from '@tongban/persistence';
import { GATEWAY_CONFIG } from '../gateway.providers';

// Read-only routes the admin console needs beyond /admin/* (every role may read; nothing changes).
const ISO_TIME = QueryParam.text(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/, 'an ISO 8601 UTC time such as 2026-12-03T08:00:00Z');
const AUDIT_SEARCH = querySchema({
  event: QueryParam.text(/^[a-z][a-z0-9_.]{0,63}$/, 'an audit event name').optional(),
  actor: QueryParam.text(/^[\p{L}\p{N}\p{P}\p{S} ]{1,64}$/u, 'an actor name (1–64 characters)').optional(),
  subject: QueryParam.text(/^[\p{L}\p{N}\p{P}\p{S} ]{1,128}$/u, 'part of a subject (1–128 characters)').optional(),
  from: ISO_TIME.optional(),
  to: ISO_TIME.optional(),
  before: QueryParam.int(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: QueryParam.int(1, 5000).optional(),
});
const CHECKPOINTS = querySchema({ limit: QueryParam.int(1, 1000).optional() });
/** Overdue cases looked at by the overdue-steps view (newest first). */
const OVERDUE_CASES = 200;

/** Admin console reads: audit search and chain check, overdue steps, one case's timeline. */
@ApiTags('admin')
@ApiBearerAuth('admin')
@ApiErrors(401, 403)
@Controller('admin/console')
export class ConsoleReadsController {
  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditLog,
    private readonly keys: KeyStore,
    private readonly cases: CaseQuery,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Access.roles('admin', 'operator', 'auditor')
  @Get('audit')
  @ApiOperation({ summary: 'Search the audit trail, newest first: by event, actor, part of the subject and time (inclusive); page with before=<oldest seq seen>' })
  @ApiQuery({ name: 'event', required: false, example: 'admin.peer.updated' })
  @ApiQuery({ name: 'actor', required: false })
  @ApiQuery({ name: 'subject', required: false, example: '130000' })
  @ApiQuery({ name: 'from', required: false, example: '2026-12-03T00:00:00Z' })
  @ApiQuery({ name: 'to', required: false, example: '2026-12-03T23:59:59Z' })
  @ApiQuery({ name: 'before', required: false })
  @ApiQuery({ name: 'limit', required: false, description: '1–5000, default 200' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { events: { type: 'array', items: { type: 'object' } } } } })
  @ValidQuery(AUDIT_SEARCH)
  @ApiErrors(400)
  async searchAudit(
    @Query('event') event?: string,
    @Query('actor') actor?: string,
    @Query('subject') subject?: string,
    @Query('from') from?: string,
    @Query('to') to?: string,
    @Query('before') before?: number,
    @Query('limit') limit?: number,
  ) {
    await this.audit.flush();
    const events = await searchAudit(this.ds, { event, actor, subject, from: from ? Date.parse(from) : undefined, to: to ? Date.parse(to) : undefined, beforeSeq: before, limit: limit ?? 200 });
    return { events };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('audit/checkpoints')
  @ApiOperation({ summary: 'The newest audit checkpoints (signed chain heads), newest first; signatures omitted' })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000, default 20' })
  @ValidQuery(CHECKPOINTS)
  @ApiErrors(400)
  async checkpoints(@Query('limit') limit?: number) {
    return { checkpoints: await latestAuditCheckpoints(this.ds, limit ?? 20) };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('audit/verification')
  @ApiOperation({
    summary:
      "Verify the stored audit chain now (hash links; checkpoint signatures against this gateway's own key store). Evidence for the operator, not proof against whoever controls the database: for that run `tongban audit verify` with keys kept outside",
  })
  @ApiResponse({ status: 200, example: { ok: true, verdict: 'PROVEN', checked: 1200, notProven: [], checkpoints: { checked: 12, bad: 0, skipped: 0, lastGoodSeq: 1190, exported: 0 } } })
  async verifyChain() {
    await this.audit.flush();
    const own = this.keys.list();
    const report = await verifyStoredAuditChain(this.ds, {
      jwks: { keys: own.map((k) => k.jwk) },
      revokedKids: own.filter((k) => k.status === 'REVOKED').map((k) => k.kid),
      issuer: this.config.code,
      intervalSeconds: this.config.audit.checkpointSeconds,
      intervalEntries: this.config.audit.checkpointEntries,
      now: Date.now(),
    });
    return { ...report, keysFrom: "this gateway's key store", ranAt: new Date().toISOString() };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('overdue-steps')
  @ApiOperation({ summary: `Open steps past their due time in overdue cases held here (the newest ${OVERDUE_CASES} such cases), with item and province; no applicant data` })
  async overdueSteps() {
    const { cases } = await this.cases.list({ overdue: true, limit: OVERDUE_CASES });
    const steps = [];
    for (const c of cases) {
      const view = await this.cases.view(c.caseId);
      for (const s of view.steps.filter((x) => x.overdue))
        steps.push({
          caseId: c.caseId,
          collaborationId: c.collaborationId,
          itemCode: c.itemCode,
          itemName: c.itemName,
          acceptingProvince: c.acceptingProvince,
          stepIndex: s.index,
          stepName: s.name,
          province: s.province,
          status: s.status,
          dueAt: s.dueAt,
          workingDaysLeft: s.workingDaysLeft,
        });
    }
    return { steps };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('cases/:id')
  @ApiOperation({ summary: "One case's timeline across provinces (steps and events), by case id or collaboration id; no applicant data, step inputs, outputs or event details" })
  @ApiParam({ name: 'id', example: '110000-20261125-K7Q2M9X4TB' })
  @ApiErrors(404)
  async caseTimeline(@Param('id') id: string) {
    const v = await this.cases.view(id);
    return {
      caseId: v.caseId,
      collaborationId: v.collaborationId,
      itemCode: v.itemCode,
      itemName: v.itemName,
      state: v.state,
      acceptingProvince: v.acceptingProvince,
      participants: v.participants,
      openedAt: v.openedAt,
      closedAt: v.closedAt,
      closeReason: v.closeReason,
      steps: v.steps.map((s) => ({
        index: s.index,
        name: s.name,
        province: s.province,
        role: s.role,
        status: s.status,
        assignedAt: s.assignedAt,
        dueAt: s.dueAt,
        finishedAt: s.finishedAt,
        overdue: s.overdue,
        actor: s.actor,
      })),
      events: v.events.map((e) => ({ seq: e.seq, at: e.at, type: e.type, province: e.province, actor: e.actor, stepIndex: e.stepIndex })),
    };
  }
}
