import { Controller, Get, Post, Query } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import { AuditLog } from '@tongban/audit';
import { DomainException, QueryParam, ValidQuery, querySchema } from '@tongban/common';
import { Access } from './access.decorator';
import { AccessGuard } from './access.guard';
import { Principal } from './access-policy';
import { ClientRegistry } from './client-registry.service';
import { RouteDeclarations, accessDocumentProblems } from './route-declarations';

// The guard and the boot check inside a real Nest + Fastify application (the router decides which
// handler runs); only the client registry and the audit log are replaced.

@Controller('v1')
class ApiController {
  @Access.scope('cases')
  @Get('cases')
  cases() {
    return { ok: 'cases' };
  }

  @Access.scope('tasks')
  @Get('tasks')
  tasks() {
    return { ok: 'tasks' };
  }
}

@Controller('admin')
class AdminController {
  @Access.roles('admin')
  @Post('clients')
  create() {
    return { ok: 'created' };
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get('clients')
  list() {
    return { ok: 'list' };
  }
}

@Controller()
class OpenController {
  @Access.public()
  @Get('health')
  health() {
    return { ok: 'health' };
  }
}

@Controller('v1')
class UndeclaredController {
  @Get('forgotten')
  forgotten() {
    return { ok: 'reached' };
  }
}

@Controller('v1')
class QueryReaderController {
  @Access.scope('cases')
  @Get('unchecked')
  unchecked(@Query('limit') limit?: string) {
    return { limit };
  }

  @Access.scope('cases')
  @ValidQuery(querySchema({ limit: QueryParam.int(1, 10).optional() }))
  @Get('checked')
  checked(@Query('limit') limit?: number) {
    return { limit };
  }
}

@Catch()
class StatusFilter implements ExceptionFilter {
  catch(e: unknown, host: ArgumentsHost) {
    const reply = host.switchToHttp().getResponse<{ status(n: number): { send(b: unknown): void } }>();
    const status = e instanceof DomainException ? { UNAUTHENTICATED: 401, FORBIDDEN: 403 }[e.code as 'FORBIDDEN'] : ((e as { status?: number }).status ?? 500);
    reply.status(status ?? 500).send({ code: e instanceof DomainException ? e.code : 'OTHER' });
  }
}

const PRINCIPALS: Record<string, Principal> = {
  cases: { id: 'c1', name: 'hall', kind: 'SYSTEM', scopes: ['cases'], role: null },
  all: { id: 'c2', name: 'everything', kind: 'SYSTEM', scopes: ['verify', 'cases', 'tasks'], role: null },
  admin: { id: 'c3', name: 'root', kind: 'ADMIN', scopes: [], role: 'admin' },
  auditor: { id: 'c4', name: 'reader', kind: 'ADMIN', scopes: [], role: 'auditor' },
};

async function appWith(controllers: (new () => object)[]): Promise<{ app: NestFastifyApplication; audit: { record: jest.Mock<void, Parameters<AuditLog['record']>> } }> {
  const audit = { record: jest.fn<void, Parameters<AuditLog['record']>>() };
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule],
    controllers,
    providers: [
      { provide: ClientRegistry, useValue: { authenticate: (t: string) => PRINCIPALS[t] } },
      { provide: AuditLog, useValue: audit },
      RouteDeclarations,
      { provide: APP_GUARD, useClass: AccessGuard },
      { provide: APP_FILTER, useClass: StatusFilter },
    ],
  }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter());
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, audit };
}

describe('AccessGuard', () => {
  let app: NestFastifyApplication;
  let audit: { record: jest.Mock<void, Parameters<AuditLog['record']>> };
  beforeAll(async () => ({ app, audit } = await appWith([ApiController, AdminController, OpenController])));
  afterAll(() => app.close());

  const hit = async (method: 'GET' | 'POST', url: string, token?: string) => {
    const r = await app.inject({ method, url, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return r.statusCode;
  };

  it('lets a caller with the declared scope or role reach the handler', async () => {
    expect(await hit('GET', '/v1/cases', 'cases')).toBe(200);
    expect(await hit('GET', '/v1/tasks', 'all')).toBe(200);
    expect(await hit('POST', '/admin/clients', 'admin')).toBe(201);
    expect(await hit('GET', '/admin/clients', 'auditor')).toBe(200);
    expect(await hit('GET', '/health')).toBe(200);
  });

  it('refuses no token and unknown tokens with 401', async () => {
    expect(await hit('GET', '/v1/cases')).toBe(401);
    expect(await hit('GET', '/v1/cases', 'nobody')).toBe(401);
    expect(await hit('POST', '/admin/clients', 'nobody')).toBe(401);
  });

  it('refuses the wrong audience, scope or role with 403 and audits it', async () => {
    audit.record.mockClear();
    expect(await hit('GET', '/v1/tasks', 'cases')).toBe(403);
    expect(await hit('POST', '/admin/clients', 'all')).toBe(403); // an API client with every scope is no administrator
    expect(await hit('GET', '/v1/cases', 'admin')).toBe(403); // nor is an administrator an API client
    expect(await hit('POST', '/admin/clients', 'auditor')).toBe(403);
    expect(audit.record).toHaveBeenCalledTimes(4);
    expect(audit.record.mock.calls[1][0]).toMatchObject({ event: 'access.denied', actor: 'everything', subject: 'POST /admin/clients', outcome: 'REFUSED', reason: 'role' });
  });

  it('decides by the matched route, whatever the spelling of the path', async () => {
    // Fastify decodes %61 → a before routing: the admin handler matched, so the admin rule applies.
    expect(await hit('POST', '/%61dmin/clients', 'all')).toBe(403);
    expect(await hit('GET', '/v1/%74asks', 'cases')).toBe(403);
    expect(await hit('POST', '/%61dmin/clients', 'admin')).toBe(201);
  });
});

describe('RouteDeclarations (boot check)', () => {
  it('refuses to start an application with a route that declares no access rule', async () => {
    await expect(appWith([OpenController, UndeclaredController])).rejects.toThrow(/GET \/v1\/forgotten \(UndeclaredController\.forgotten\): no access declaration/);
  });

  it('refuses to start an application with a handler that reads the query string without a schema', async () => {
    await expect(appWith([QueryReaderController])).rejects.toThrow(/GET \/v1\/unchecked \(QueryReaderController\.unchecked\): reads @Query\(\) without a query schema/);
    await expect(appWith([QueryReaderController])).rejects.not.toThrow(/\/v1\/checked/);
  });

  it('lists every route with its declaration', async () => {
    const { app } = await appWith([ApiController, AdminController, OpenController]);
    const routes = app.get(RouteDeclarations).routes();
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /admin/clients', 'POST /admin/clients', 'GET /health', 'GET /v1/cases', 'GET /v1/tasks']);
    expect(routes.find((r) => r.path === '/v1/tasks')?.access).toEqual({ audience: 'api', scope: 'tasks' });
    await app.close();
  });

  it('the guard refuses an undeclared handler even if the boot check were bypassed', async () => {
    const guard = new AccessGuard({ get: () => undefined } as never, { authenticate: () => PRINCIPALS.admin } as never, { record: jest.fn() } as never);
    const ctx = {
      getType: () => 'http',
      getHandler: () => function forgotten() {},
      getClass: () => UndeclaredController,
      switchToHttp: () => ({ getRequest: () => ({ method: 'GET', url: '/v1/forgotten', headers: { authorization: 'Bearer admin' } }) }),
    };
    expect(() => guard.canActivate(ctx as never)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
  });

  it('finds OpenAPI operations that disagree with the handlers', () => {
    const routes = [{ method: 'GET', path: '/v1/cases/:id', handler: 'X.view', access: { audience: 'api' as const, scope: 'cases' as const }, querySchema: false, readsQuery: false }];
    expect(accessDocumentProblems({ paths: { '/v1/cases/{id}': { get: { 'x-tongban-access': { audience: 'api', scope: 'cases' } } } } }, routes)).toEqual([]);
    expect(accessDocumentProblems({ paths: { '/v1/cases/{id}': { get: {} } } }, routes)).toHaveLength(1);
    expect(accessDocumentProblems({ paths: { '/v1/cases/{id}': { get: { 'x-tongban-access': { audience: 'api', scope: 'cases' } } }, '/extra': { post: {} } } }, routes)).toEqual([
      'post /extra: in the OpenAPI document but not a route',
    ]);
  });
});
