// Commands of the `tongban` CLI that must run inside the gateway (they announce or propagate what
// they change: key rotation, licence status) call its admin API instead of writing to the database.

/** What a command prints, and its exit code. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Where the gateway is and the admin token to present. */
export interface AdminTarget {
  url: string;
  token: string;
}

/**
 * POSTs `body` as JSON to the gateway's admin API: the parsed answer on a 2xx that `accept`s it,
 * otherwise the CommandResult to print (unreachable, or the gateway's error code and message).
 */
export async function postToGateway<T>(target: AdminTarget, path: string, body: unknown, accept: (parsed: unknown) => parsed is T): Promise<{ ok: true; body: T } | { ok: false; out: CommandResult }> {
  let res: Response;
  try {
    res = await fetch(`${target.url.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    return { ok: false, out: { stdout: '', stderr: `the gateway at ${target.url} cannot be reached (${cause ?? (e as Error).message}); is it running? (--gateway URL)\n`, exitCode: 1 } };
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* reported below */
  }
  if (res.ok && accept(parsed)) return { ok: true, body: parsed };
  const e = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
  return { ok: false, out: { stdout: '', stderr: `the gateway answered ${res.status}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? text.slice(0, 300)}\n`, exitCode: 1 } };
}
