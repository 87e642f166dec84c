// The `tongban keys rotate|revoke` commands (apps/cli wires them). A rotation or revocation must be
// announced to every peer by the running gateway (outbox, signed with a key they trust), so the CLI
// asks the gateway's admin API to do it rather than writing to the database behind its back.

/** What a command prints, and its exit code. */
export interface KeysCommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Where the gateway is and the admin token to present. */
export interface AdminTarget {
  url: string;
  token: string;
}

interface KeyRow {
  kid: string;
  alg: string;
  status: string;
  createdAt?: string;
  activatedAt?: string | null;
  retiredAt?: string | null;
  revokedAt?: string | null;
}

async function post(target: AdminTarget, path: string, body: unknown): Promise<KeysCommandOutput> {
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
    return { stdout: '', stderr: `the gateway at ${target.url} cannot be reached (${cause ?? (e as Error).message}); is it running? (--gateway URL)\n`, exitCode: 1 };
  }
  const text = await res.text();
  let parsed: { keys?: KeyRow[]; error?: { code?: string; message?: string } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    /* reported below */
  }
  if (!res.ok || !Array.isArray(parsed.keys)) {
    const e = parsed.error;
    return { stdout: '', stderr: `the gateway answered ${res.status}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? text.slice(0, 300)}\n`, exitCode: 1 };
  }
  return { stdout: formatKeys(parsed.keys), stderr: '', exitCode: 0 };
}

function formatKeys(keys: KeyRow[]): string {
  const at = (k: KeyRow) => k.revokedAt ?? k.retiredAt ?? k.activatedAt ?? k.createdAt ?? '';
  return keys.map((k) => `${k.kid}  ${k.alg.padEnd(5)}  ${k.status.padEnd(8)}  ${at(k)}`).join('\n') + '\n';
}

/** `keys rotate`: announce a new key to every peer; sign with it after the overlap (or at once). */
export async function rotateKeyCommand(target: AdminTarget, o: { immediate?: boolean; overlapHours?: string; alg?: string }): Promise<KeysCommandOutput> {
  const body: { immediate?: boolean; overlapHours?: number; alg?: string } = {};
  if (o.immediate) body.immediate = true;
  // The gateway checks the value (400 naming alg); the CLI passes it through.
  if (o.alg !== undefined) body.alg = o.alg;
  if (o.overlapHours !== undefined) {
    const h = Number(o.overlapHours);
    if (!Number.isFinite(h) || h < 0 || h > 720) return { stdout: '', stderr: '--overlap-hours must be a number from 0 to 720\n', exitCode: 2 };
    if (o.immediate) return { stdout: '', stderr: 'give either --immediate or --overlap-hours, not both\n', exitCode: 2 };
    body.overlapHours = h;
  }
  return post(target, '/admin/keys/rotate', body);
}

/** `keys revoke`: revoke one of our keys (compromise); announced to every peer. */
export async function revokeKeyCommand(target: AdminTarget, kid: string, o: { reason: string }): Promise<KeysCommandOutput> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(kid)) return { stdout: '', stderr: 'kid must be 1-64 base64url characters (see tongban keys list)\n', exitCode: 2 };
  return post(target, `/admin/keys/${kid}/revoke`, { reason: o.reason });
}
