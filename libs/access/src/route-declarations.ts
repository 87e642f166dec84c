import { Injectable, OnModuleInit, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { QUERY_SCHEMA_METADATA } from '@tongban/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { ACCESS_EXTENSION, ACCESS_METADATA, AccessRule } from './access.decorator';

/** One HTTP route of the application as Nest will register it, with its declarations. */
export interface RouteDeclaration {
  method: string;
  /** Nest/Fastify form, e.g. /v1/cases/:id. */
  path: string;
  handler: string;
  access: AccessRule | undefined;
  /** Whether the handler declares a query schema (@ValidQuery). */
  querySchema: boolean;
  /** Whether the handler reads the query string (@Query()). */
  readsQuery: boolean;
}

/** The rules every HTTP route must keep; a message for each one it breaks. */
export function routeProblems(r: RouteDeclaration): string[] {
  return [
    ...(r.access ? [] : ['no access declaration (@Access.public(), @Access.scope(…) or @Access.roles(…))']),
    ...(r.readsQuery && !r.querySchema ? ['reads @Query() without a query schema (@ValidQuery(…))'] : []),
  ];
}

/**
 * The route table, read from the controllers themselves, and the boot check over it: a gateway
 * with an HTTP route that declares no access rule, or reads the query string without a schema,
 * does not start.
 */
@Injectable()
export class RouteDeclarations implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  /** Every HTTP route of every controller, in a stable order. */
  routes(): RouteDeclaration[] {
    return this.walk();
  }

  onModuleInit(): void {
    const problems = this.walk().flatMap((r) => routeProblems(r).map((p) => `${r.method} ${r.path} (${r.handler}): ${p}`));
    if (problems.length) throw new Error(`refusing to start: ${problems.length} HTTP route problem(s):\n  ${problems.join('\n  ')}`);
  }

  private walk(): RouteDeclaration[] {
    const out: RouteDeclaration[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const type = wrapper.metatype as (new (...a: unknown[]) => object) | undefined;
      const proto = type?.prototype as Record<string, unknown> | undefined;
      if (!type || !proto) continue;
      const base = pathsOf(Reflect.getMetadata(PATH_METADATA, type) as string | string[] | undefined);
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const fn = proto[name] as (...args: unknown[]) => unknown;
        const own = Reflect.getMetadata(PATH_METADATA, fn) as string | string[] | undefined;
        // Only HTTP routes carry a path on the handler (gRPC handlers carry a pattern instead).
        if (own === undefined) continue;
        const method = RequestMethod[(Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined) ?? RequestMethod.GET];
        for (const b of base) {
          for (const p of pathsOf(own)) {
            out.push({
              method,
              path: joinPath(b, p),
              handler: `${type.name}.${name}`,
              access: Reflect.getMetadata(ACCESS_METADATA, fn) as AccessRule | undefined,
              querySchema: Reflect.getMetadata(QUERY_SCHEMA_METADATA, fn) !== undefined,
              readsQuery: Object.keys((Reflect.getMetadata(ROUTE_ARGS_METADATA, type, name) as object | undefined) ?? {}).some((k) => k.split(':')[0] === String(RouteParamtypes.QUERY)),
            });
          }
        }
      }
    }
    return out.sort((a, b) => (a.path + a.method).localeCompare(b.path + b.method));
  }
}

function pathsOf(p: string | string[] | undefined): string[] {
  if (p === undefined) return [''];
  return Array.isArray(p) ? p : [p];
}

function joinPath(a: string, b: string): string {
  const joined = `/${[a, b]
    .map((s) => s.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/')}`;
  return joined;
}

/** The OpenAPI path of a Nest path: `/v1/cases/:id` → `/v1/cases/{id}`, `/console/*` → `/console/{path}`. */
export function openApiPathOf(path: string): string {
  // A trailing wildcard (`/console/*`) is the parameter `path` in the document, as @nestjs/swagger names it.
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

/**
 * Cross-check of the published OpenAPI document against the route table: every route is an
 * operation carrying the same `x-tongban-access` declaration, and the document has no other
 * operation. Returns the problems (empty when they agree).
 */
export function accessDocumentProblems(document: { paths: object }, routes: RouteDeclaration[]): string[] {
  const paths = document.paths as Record<string, Record<string, unknown>>;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const r of routes) {
    const key = `${r.method.toLowerCase()} ${openApiPathOf(r.path)}`;
    seen.add(key);
    const op = paths[openApiPathOf(r.path)]?.[r.method.toLowerCase()] as Record<string, unknown> | undefined;
    if (!op) problems.push(`${key}: not in the OpenAPI document`);
    else if (JSON.stringify(op[ACCESS_EXTENSION]) !== JSON.stringify(r.access))
      problems.push(`${key}: ${ACCESS_EXTENSION} ${JSON.stringify(op[ACCESS_EXTENSION])} differs from the handler's ${JSON.stringify(r.access)}`);
  }
  for (const [path, ops] of Object.entries(paths)) {
    for (const m of Object.keys(ops)) {
      if (['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(m) && !seen.has(`${m} ${path}`)) problems.push(`${m} ${path}: in the OpenAPI document but not a route`);
    }
  }
  return problems;
}
