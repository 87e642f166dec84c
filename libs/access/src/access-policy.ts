/** Scopes a provincial system can hold. */
export const SCOPES = ['verify', 'cases', 'tasks'] as const;
export type Scope = (typeof SCOPES)[number];

/** Administrator roles: admin changes anything, operator runs the queues, auditor only reads. */
export const ROLES = ['admin', 'operator', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller. */
export interface Principal {
  name: string;
  kind: 'SYSTEM' | 'ADMIN';
  scopes: Scope[];
  role: Role | null;
}

/**
 * What a request needs, from its method and path: the one table of the local and admin APIs'
 * permissions (null = public). Kept next to the roles so a reviewer sees the whole policy at once.
 */
export function requirementOf(method: string, path: string): { scope: Scope } | { roles: Role[] } | null {
  const p = path.split('?')[0];
  if (p.startsWith('/admin/')) {
    if (method === 'GET') return { roles: ['admin', 'operator', 'auditor'] };
    if (/^\/admin\/(outbox\/[^/]+|material-transfers\/[^/]+\/[^/]+|webhook-deliveries\/[^/]+)\/requeue$/.test(p)) return { roles: ['admin', 'operator'] };
    return { roles: ['admin'] };
  }
  if (p.startsWith('/v1/verifications') || p.startsWith('/v1/attestations')) return { scope: 'verify' };
  if (p.startsWith('/v1/tasks')) return { scope: 'tasks' };
  if (p.startsWith('/v1/cases') || p.startsWith('/v1/webhooks')) return { scope: 'cases' };
  if (p.startsWith('/v1/')) return { scope: 'cases' };
  return null;
}

/** Whether `who` may do what `need` asks. */
export function permits(who: Principal, need: { scope: Scope } | { roles: Role[] }): boolean {
  if ('scope' in need) return who.kind === 'SYSTEM' && who.scopes.includes(need.scope);
  return who.kind === 'ADMIN' && !!who.role && need.roles.includes(who.role);
}
