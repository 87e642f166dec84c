import { SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';
import { ROLES, Role, SCOPES, Scope } from './access-policy';

/** Handler metadata key of an access declaration. */
export const ACCESS_METADATA = 'tongban:access';
/** The OpenAPI extension on every operation that carries the same declaration. */
export const ACCESS_EXTENSION = 'x-tongban-access';

/**
 * What a route needs: nothing (public), an API client (SYSTEM) holding `scope`, or an administrator
 * (ADMIN) holding one of `roles`. The audience is part of the rule: a token of the other kind never
 * passes, whatever it holds.
 */
export type AccessRule = { audience: 'public' } | { audience: 'api'; scope: Scope } | { audience: 'admin'; roles: Role[] };

function declare(rule: AccessRule): MethodDecorator {
  const metadata = SetMetadata(ACCESS_METADATA, rule);
  const openApi = ApiExtension(ACCESS_EXTENSION, rule);
  return (target, key, descriptor) => {
    // On the handler only: a class-wide default would silently cover handlers added later.
    if (!descriptor) throw new Error('@Access.* is declared on each route handler, not on a class');
    metadata(target, key, descriptor);
    openApi(target, key, descriptor);
  };
}

/**
 * Access declarations, one per HTTP route handler. The guard reads the matched handler's
 * declaration (never the URL); a route without one is refused, and the gateway does not start.
 */
export const Access = {
  /** No token: health, metrics, the public JWKS. */
  public: (): MethodDecorator => declare({ audience: 'public' }),
  /** A provincial system (SYSTEM client or bootstrap API token) holding `scope`. */
  scope: (scope: Scope): MethodDecorator => {
    if (!SCOPES.includes(scope)) throw new Error(`unknown scope ${String(scope)}`);
    return declare({ audience: 'api', scope });
  },
  /** An administrator (ADMIN client or the bootstrap admin token) holding one of `roles`. */
  roles: (...roles: Role[]): MethodDecorator => {
    if (roles.length === 0 || roles.some((r) => !ROLES.includes(r))) throw new Error(`@Access.roles needs known roles, got ${roles.join(',') || 'none'}`);
    return declare({ audience: 'admin', roles: [...roles] });
  },
};
