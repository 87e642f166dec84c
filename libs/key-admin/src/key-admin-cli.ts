// The `tongban keys rotate|revoke` commands (apps/cli wires them). A rotation or revocation must be
// announced to every peer by the running gateway (outbox, signed with a key they trust), so the CLI
// asks the gateway's admin API to do it rather than writing to the database behind its back.

import { AdminTarget, CommandResult, postToGateway } from '@tongban/common';

export type { AdminTarget } from '@tongban/common';
/** What a command prints, and its exit code. */
export type KeysCommandOutput = CommandResult;

interface KeyRow {
  kid: string;
  alg: string;
  status: string;
  createdAt?: string;
  activatedAt?: string | null;
  retiredAt?: string | null;
  revokedAt?: string | null;
}

const hasKeys = (p: unknown): p is { keys: KeyRow[] } => Array.isArray((p as { keys?: unknown } | undefined)?.keys);

async function post(target: AdminTarget, path: string, body: unknown): Promise<KeysCommandOutput> {
  const r = await postToGateway(target, path, body, hasKeys);
  return r.ok ? { stdout: formatKeys(r.body.keys), stderr: '', exitCode: 0 } : r.out;
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
