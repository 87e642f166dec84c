import { createServer } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { TEST_PG_URL, dropPostgresSchema } from './databases';
import { TestPki, TlsFilesOption } from './test-pki';

export interface Secrets {
  keyEncryptionSecret: string;
  apiToken: string;
  adminToken: string;
}

export interface GatewayOptions {
  code: string;
  dir: string;
  secrets: Secrets;
  httpPort?: number;
  grpcPort?: number;
  databaseUrl?: string;
  env?: Record<string, string>;
  echo?: boolean;
  /** Mutual TLS files (gatewayOptions fills them from the test CA unless `insecure`). */
  tls?: TlsFilesOption;
  /** Start with the development flag TONGBAN_GRPC_INSECURE=true instead of TLS. */
  insecure?: boolean;
}

/** A running gateway process. */
export interface Gateway {
  code: string;
  httpPort: number;
  grpcPort: number;
  baseUrl: string;
  grpcEndpoint: string;
  apiToken: string;
  adminToken: string;
  secrets: Secrets;
  options: GatewayOptions;
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  stop(): Promise<unknown>;
  kill(): Promise<unknown>;
}

/** An HTTP answer; `T` is what the caller expects the body to be (unchecked: assert on it). */
export interface HttpResult<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** What scripts/lib/federation.js exports (the launcher is plain JS so that `npm start` runs it before anything is built). */
interface Launcher {
  newSecrets(): Secrets;
  startGateway(o: GatewayOptions): Promise<Gateway>;
  call(gw: Gateway, method: string, path: string, body?: unknown, token?: string): Promise<HttpResult>;
  trustPeer(from: Gateway, to: Gateway, allowed?: string[]): Promise<unknown>;
  connectAll(gws: Gateway[], allowed?: string[]): Promise<void>;
  runCli(o: GatewayOptions, args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  ROOT: string;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script, typed by Launcher above
const fed = require('../../../scripts/lib/federation.js') as Launcher;

export const newSecrets = (): Secrets => fed.newSecrets();
/**
 * Starts a gateway. A port from `freePort` was only free a moment ago: another listener (a parallel
 * suite's gateway that drew the same port) can take it before the gateway binds; no outgoing
 * connection can, the port being below the ephemeral range. On EADDRINUSE before ready the gateway
 * is started again on fresh ports (at most 3 times); the options object is updated, so a later
 * restart of the same gateway uses the new ports.
 */
export async function startGateway(o: GatewayOptions): Promise<Gateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fed.startGateway(o);
    } catch (e) {
      if (attempt >= 3 || !/EADDRINUSE/.test(String(e))) throw e;
      o.httpPort = await freePort();
      o.grpcPort = await freePort();
    }
  }
}
/** Calls a gateway's HTTP API; `T` names the body the test expects (default unknown: narrow it or name it). */
export const call = <T = unknown>(gw: Gateway, method: string, path: string, body?: unknown, token?: string): Promise<HttpResult<T>> =>
  fed.call(gw, method, path, body, token) as Promise<HttpResult<T>>;
export const trustPeer = (from: Gateway, to: Gateway, allowed?: string[]): Promise<unknown> => fed.trustPeer(from, to, allowed);
export const connectAll = (gws: Gateway[], allowed?: string[]): Promise<void> => fed.connectAll(gws, allowed);
export const runCli = (o: GatewayOptions, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => fed.runCli(o, args);
export const ROOT: string = fed.ROOT;

/**
 * The kernel's range for outgoing connections' local ports (Linux: 32768-60999 by default). A
 * listening port taken from inside it (what `listen(0)` gives) can be taken by any outgoing
 * connection between the check and the gateway's bind, or while the gateway is restarted on it.
 */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo, hi];
  } catch {
    // not Linux: assume the IANA dynamic range
  }
  return [49152, 65535];
}
const [EPHEMERAL_LOW] = ephemeralRange();
/** Ports handed out: below the ephemeral range, so no outgoing connection is ever given one of them. */
export const TEST_PORTS: readonly [number, number] = EPHEMERAL_LOW > 12_000 ? [10_000, EPHEMERAL_LOW - 1] : [EPHEMERAL_LOW, 65_535];

/** Whether a listener can bind `port` on 127.0.0.1 now. */
const canBind = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/**
 * A TCP port that was free a moment ago, drawn at random from below the kernel's ephemeral range
 * (`TEST_PORTS`): only another listener choosing the same port can take it before the gateway binds
 * it, and a gateway restarted on its ports finds them free (its peers keep its old address).
 */
export async function freePort(): Promise<number> {
  const [lo, hi] = TEST_PORTS;
  for (let i = 0; i < 200; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port found in ${lo}-${hi} after 200 tries`);
}

/** Options for a gateway on free ports in a fresh temp folder, with a certificate from the test CA. */
export async function gatewayOptions(code: string, extra: Partial<GatewayOptions> = {}): Promise<GatewayOptions> {
  return {
    code,
    tls: extra.insecure ? undefined : (extra.tls ?? (await (await TestPki.get()).filesFor(code))),
    dir: extra.dir ?? mkdtempSync(join(tmpdir(), `tongban-e2e-${code}-`)),
    secrets: extra.secrets ?? newSecrets(),
    httpPort: extra.httpPort ?? (await freePort()),
    grpcPort: extra.grpcPort ?? (await freePort()),
    ...extra,
  };
}

/** Imports the demo licences of `code` into the gateway's database (before it starts). */
export async function importDemoLicences(o: GatewayOptions): Promise<void> {
  const r = await runCli(o, ['licences', 'import', join(ROOT, 'deploy', 'demo', `licences-${o.code}.json`)]);
  if (r.code !== 0) throw new Error(`demo import for ${o.code} failed: ${r.stderr}`);
}

/** Starts gateways for `codes` with demo licences, all trusting each other. */
export async function startFederation(codes: string[], extra: Partial<GatewayOptions> = {}, database: 'sqlite' | 'postgres' = 'sqlite'): Promise<Gateway[]> {
  // On PostgreSQL each gateway gets a schema of its own on the test database (dropped by the caller).
  const options = await Promise.all(
    codes.map((c) =>
      gatewayOptions(
        c,
        database === 'postgres'
          ? { ...extra, databaseUrl: TEST_PG_URL, env: { ...(extra.env ?? {}), TONGBAN_DATABASE_SCHEMA: `e2e_${c}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}` } }
          : extra,
      ),
    ),
  );
  await Promise.all(options.map(importDemoLicences));
  const gateways = await Promise.all(options.map(startGateway));
  await connectAll(gateways);
  return gateways;
}

/** Drops the PostgreSQL schemas of gateways started by `startFederation(…, 'postgres')`. */
export async function dropFederationSchemas(gateways: Gateway[]): Promise<void> {
  for (const g of gateways) {
    const schema = g.options.env?.TONGBAN_DATABASE_SCHEMA;
    if (g.options.databaseUrl && schema) await dropPostgresSchema(schema);
  }
}
