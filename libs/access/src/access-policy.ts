/** Scopes a provincial system can hold. */
export const SCOPES = ['verify', 'cases', 'tasks'] as const;
export type Scope = (typeof SCOPES)[number];

/** Administrator roles: admin changes anything, operator runs the queues, auditor only reads. */
export const ROLES = ['admin', 'operator', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller. */
export interface Principal {
  /** The stored client's id, or `bootstrap:<name>:<8 hex of the token's hash>` for a token from configuration. */
  id: string;
  name: string;
  kind: 'SYSTEM' | 'ADMIN';
  scopes: Scope[];
  role: Role | null;
}

/**
 * Whether `who` may use a route declared with `rule` (see access.decorator.ts): the audience must
 * match the caller's kind, then the scope or the role. There is no URL table: the rule is the matched
 * handler's declaration.
 */
export function permits(who: Principal, rule: { audience: 'public' } | { audience: 'api'; scope: Scope } | { audience: 'admin'; roles: Role[] }): boolean {
  switch (rule.audience) {
    case 'public':
      return true;
    case 'api':
      return who.kind === 'SYSTEM' && who.scopes.includes(rule.scope);
    case 'admin':
      return who.kind === 'ADMIN' && !!who.role && rule.roles.includes(who.role);
    default:
      return false;
  }
}
