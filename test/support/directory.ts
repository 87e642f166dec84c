import { renameSync, writeFileSync } from 'node:fs';
import { Gateway, GatewayOptions, runCli } from '@tongban/testkit';

// The national platform's side of the directory e2e tests: directory entries made from running
// gateways, signed with the `tongban directory` CLI and published atomically where gateways read.

/** Runs `tongban <args>` with `o`'s environment; throws with stderr unless it exits 0. */
export async function cliOk(o: GatewayOptions, args: string[]): Promise<string> {
  const r = await runCli(o, args);
  if (r.code !== 0) throw new Error(`tongban ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A directory participant for a running gateway: its gRPC endpoint and current public keys. */
export async function directoryEntry(gw: Gateway, name: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const jwks = (await (await fetch(`${gw.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  return { code: gw.code, name, endpoint: gw.grpcEndpoint, status: 'ACTIVE', keys: jwks.keys.map((k) => ({ kid: k.kid, jwk: k, status: 'ACTIVE' })), ...extra };
}

/** Signs `doc` with the anchor key file `key` (CLI, 30 days) and renames it over `source`. */
export async function publishDirectory(cli: GatewayOptions, doc: { serial: number }, o: { dir: string; key: string; source: string }): Promise<void> {
  const json = `${o.dir}/directory-${doc.serial}.json`;
  const out = `${o.dir}/directory-${doc.serial}.jws`;
  writeFileSync(json, JSON.stringify(doc, null, 2));
  await cliOk(cli, ['directory', 'sign', '--key', o.key, '--in', json, '--out', out, '--valid-days', '30']);
  renameSync(out, o.source);
}
