import { Body, Controller, Get, HttpCode, Param, Post, Query, UseGuards } from '@nestjs/common';
import { CaseNotes, CaseOwner, CaseQuery, TaskAction, TaskService } from '@tongban/cases';
import { DomainException } from '@tongban/common';
import { ApiTokenGuard, RequiresToken } from './api-token.guard';
import { Ctx, RequestContext } from './request-context';

/** Local API for cases (accepting offices, supervision) and tasks (departments). */
@Controller('v1')
@UseGuards(ApiTokenGuard)
@RequiresToken('api')
export class CasesController {
  constructor(
    private readonly owner: CaseOwner,
    private readonly query: CaseQuery,
    private readonly tasks: TaskService,
    private readonly notes: CaseNotes,
  ) {}

  @Post('cases')
  open(@Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.owner.open(body, ctx.caller).then((r) => this.query.view(r.caseId));
  }

  @Get('cases')
  list(@Query() q: Record<string, string>) {
    return this.query.list(q);
  }

  @Get('cases/:id')
  view(@Param('id') id: string) {
    return this.query.view(id);
  }

  @Post('cases/:id/cancel')
  @HttpCode(200)
  cancel(@Param('id') id: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.owner.cancel(id, body, ctx.caller).then(() => this.query.view(id));
  }

  @Post('cases/:id/postal')
  @HttpCode(200)
  postal(@Param('id') id: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.notes.postal(id, body, ctx.caller).then(() => this.query.view(id));
  }

  @Post('cases/:id/result-delivery')
  @HttpCode(200)
  resultDelivery(@Param('id') id: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    return this.notes.resultDelivered(id, body, ctx.caller).then(() => this.query.view(id));
  }

  @Get('tasks')
  listTasks(@Query() q: Record<string, string>) {
    return this.query.tasks(q);
  }

  @Get('tasks/:id/applicant')
  applicant(@Param('id') id: string, @Ctx() ctx: RequestContext) {
    return this.tasks.applicant(id, ctx.caller);
  }

  @Post('tasks/:id/:action')
  @HttpCode(200)
  act(@Param('id') id: string, @Param('action') action: string, @Body() body: unknown, @Ctx() ctx: RequestContext) {
    if (!['accept', 'complete', 'refuse', 'request-materials'].includes(action)) throw new DomainException('NOT_FOUND', `no task action ${action.slice(0, 30)}`);
    return this.tasks.act(id, action as TaskAction, body, ctx.caller).then(() => this.query.view(id.split('~')[0]));
  }
}
