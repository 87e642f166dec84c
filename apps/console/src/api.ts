// Same-origin calls to the gateway. The session cookie travels by itself (HttpOnly: this code never
// sees it); every state change carries the session's CSRF token in X-CSRF-Token.

export interface Session {
  client: { id: string; name: string; role: Role };
  csrfToken: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
}
export type Role = 'admin' | 'operator' | 'auditor';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
let onExpired: () => void = () => undefined;

/** Remembers the CSRF token of the signed-in session and what to do when the server forgets it. */
export function useSession(s: Session | null, expired: () => void): void {
  csrfToken = s?.csrfToken ?? '';
  onExpired = expired;
}

async function send<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    // The gateway's errors are `{error: {code, message, field?, rule?}}`; tolerate a bare `{code, message}`.
    const body = (parsed ?? {}) as { error?: { code?: string; message?: string | string[] }; code?: string; message?: string | string[] };
    const err = body.error ?? body;
    const message = Array.isArray(err.message) ? err.message.join('; ') : (err.message ?? res.statusText);
    if (res.status === 401 && !path.startsWith('/console/api/session')) onExpired();
    throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, message);
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => send<T>('GET', path, undefined, signal),
  post: <T>(path: string, body: unknown = {}) => send<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => send<T>('PATCH', path, body),
  put: <T>(path: string, body: unknown) => send<T>('PUT', path, body),
  del: <T>(path: string) => send<T>('DELETE', path),
};

export const signIn = (token: string) => send<Session>('POST', '/console/api/session', { token });
export const currentSession = () => send<Session>('GET', '/console/api/session');
export const signOut = () => send<void>('DELETE', '/console/api/session');

/** Which roles may use a control (mirrors the server's @Access rules; the server decides anyway). */
export const can = {
  rotateKeys: (r: Role) => r === 'admin',
  editPeers: (r: Role) => r === 'admin',
  requeue: (r: Role) => r === 'admin' || r === 'operator',
  manageClients: (r: Role) => r === 'admin',
  deleteWebhooks: (r: Role) => r === 'admin' || r === 'operator',
};
