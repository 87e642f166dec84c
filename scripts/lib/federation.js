'use strict';
// Starts real gateway processes and wires their trust, for `npm start`, the e2e tests and the
// benchmarks. Plain CommonJS with no dependencies, so it runs before anything is installed.
const { execFileSync, fork } = require('node:child_process');
const { forkUntilReady } = require('./processes');
const { randomBytes } = require('node:crypto');
const { existsSync, mkdirSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const GATEWAY_MAIN = path.join(ROOT, 'dist', 'apps', 'gateway', 'main.js');
const CLI_MAIN = path.join(ROOT, 'dist', 'apps', 'cli', 'main.js');

/** Fresh secrets for one gateway (key-encryption secret, local API token, admin token). */
function newSecrets() {
  return {
    keyEncryptionSecret: randomBytes(32).toString('base64url'),
    apiToken: randomBytes(24).toString('base64url'),
    adminToken: randomBytes(24).toString('base64url'),
  };
}

/**
 * A local federation CA in `dir` (created once) and a certificate per code (issued when missing
 * or within 7 days of expiry), made with `tongban tls ca|issue`. Returns each code's TLS options
 * for startGateway. The passphrases are kept by the caller (npm start keeps them in
 * .federation/secrets.json beside the other development secrets).
 * @param {string} dir
 * @param {string[]} codes
 * @param {{caPassphrase: string, keyPassphrase: string}} secrets
 * @returns {Record<string, {certFile: string, keyFile: string, caFile: string, keyPassphrase: string}>}
 */
function localPki(dir, codes, secrets) {
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, CA_KEY_PASSPHRASE: secrets.caPassphrase, TONGBAN_TLS_KEY_PASSPHRASE: secrets.keyPassphrase };
  const cli = (args) => execFileSync(process.execPath, [CLI_MAIN, 'tls', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (!existsSync(path.join(dir, 'ca.pem'))) cli(['ca', '--out', dir, '--name', 'Tongban local development CA', '--days', '825']);
  cli(['issue', '--ca', dir, '--out', dir, '--code', codes.join(','), '--host', 'localhost', '--host', '127.0.0.1', '--days', '90', '--renew-within', '7']);
  return Object.fromEntries(
    codes.map((code) => [code, { certFile: path.join(dir, `${code}.pem`), keyFile: path.join(dir, `${code}.key`), caFile: path.join(dir, 'ca.pem'), keyPassphrase: secrets.keyPassphrase }]),
  );
}

/** Fresh passphrases for a local CA and its gateway keys. */
function newPkiSecrets() {
  return { caPassphrase: randomBytes(24).toString('base64url'), keyPassphrase: randomBytes(24).toString('base64url') };
}

/**
 * Environment for one gateway process. `tls` (from localPki) gives it mutual TLS; `insecure: true`
 * the development flag instead; one of the two is required.
 * @param {{code: string, dir: string, secrets: ReturnType<typeof newSecrets>, tls?: {certFile: string, keyFile: string, caFile: string, keyPassphrase: string}, insecure?: boolean, httpPort?: number, grpcPort?: number, databaseUrl?: string, env?: Record<string,string>}} o
 */
function gatewayEnv(o) {
  mkdirSync(o.dir, { recursive: true });
  const transport = o.tls
    ? { TONGBAN_TLS_CERT: o.tls.certFile, TONGBAN_TLS_KEY: o.tls.keyFile, TONGBAN_TLS_CA: o.tls.caFile, TONGBAN_TLS_KEY_PASSPHRASE: o.tls.keyPassphrase }
    : o.insecure
      ? { TONGBAN_GRPC_INSECURE: 'true' }
      : {};
  const env = {
    ...transport,
    TONGBAN_CODE: o.code,
    TONGBAN_KEY_ENCRYPTION_SECRET: o.secrets.keyEncryptionSecret,
    TONGBAN_API_TOKENS: `local:${o.secrets.apiToken}`,
    TONGBAN_ADMIN_TOKEN: o.secrets.adminToken,
    ...(o.httpPort ? { TONGBAN_HTTP_PORT: String(o.httpPort) } : {}),
    ...(o.grpcPort ? { TONGBAN_GRPC_PORT: String(o.grpcPort) } : {}),
    ...(o.databaseUrl ? { TONGBAN_DATABASE_URL: o.databaseUrl } : { TONGBAN_SQLITE_PATH: path.join(o.dir, `tongban-${o.code}.sqlite`) }),
    ...(o.env || {}),
  };
  // TONGBAN_SM2_NATIVE passes through: CI sets it to `required` so every gateway proves the addon is used.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TONGBAN_') || k === 'TONGBAN_SM2_NATIVE'));
  return { ...clean, ...env };
}

/**
 * Starts one gateway process and resolves when it reports ready (IPC), or rejects with its output.
 * @returns {Promise<Gateway>}
 */
function startGateway(o) {
  const env = gatewayEnv(o);
  const nn = o.code.slice(0, 2);
  const httpPort = o.httpPort || Number(`80${nn}`);
  const grpcPort = o.grpcPort || Number(`90${nn}`);
  return forkUntilReady(GATEWAY_MAIN, { env, label: `gateway ${o.code}`, echo: o.echo, execArgv: o.execArgv }).then(({ proc, exited: exitPromise, output }) => ({
    code: o.code,
    httpPort,
    grpcPort,
    baseUrl: `http://127.0.0.1:${httpPort}`,
    grpcEndpoint: `127.0.0.1:${grpcPort}`,
    apiToken: o.secrets.apiToken,
    adminToken: o.secrets.adminToken,
    secrets: o.secrets,
    options: o,
    proc,
    output,
    exited: exitPromise,
    /** Graceful stop (SIGTERM) and wait. */
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exitPromise;
    },
    /** Hard kill (SIGKILL) and wait. */
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      return exitPromise;
    },
  }));
}

/** Calls a gateway's HTTP API; returns {status, body}. */
async function call(gw, method, urlPath, body, token) {
  const res = await fetch(gw.baseUrl + urlPath, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${token || gw.apiToken}` },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Makes `from` trust `to`: adds or updates the peer with `to`'s endpoint and current public keys. */
async function trustPeer(from, to, allowedLicenceTypes = ['*']) {
  const jwks = await (await fetch(`${to.baseUrl}/.well-known/jwks.json`)).json();
  const created = await call(from, 'POST', '/admin/peers', { code: to.code, endpoint: to.grpcEndpoint, allowedLicenceTypes, keys: jwks.keys }, from.adminToken);
  if (created.status === 201 || created.status === 200) return created.body;
  if (created.status !== 409) throw new Error(`trust ${from.code}→${to.code}: ${created.status} ${JSON.stringify(created.body)}`);
  const updated = await call(from, 'PATCH', `/admin/peers/${to.code}`, { endpoint: to.grpcEndpoint, allowedLicenceTypes, status: 'ACTIVE' }, from.adminToken);
  if (updated.status !== 200) throw new Error(`update ${from.code}→${to.code}: ${updated.status} ${JSON.stringify(updated.body)}`);
  for (const key of jwks.keys) {
    const added = await call(from, 'POST', `/admin/peers/${to.code}/keys`, key, from.adminToken);
    if (added.status !== 201 && added.status !== 200 && added.status !== 409) throw new Error(`key ${from.code}→${to.code}: ${added.status} ${JSON.stringify(added.body)}`);
  }
  return updated.body;
}

/** Every gateway trusts every other one. */
async function connectAll(gateways, allowedLicenceTypes) {
  for (const a of gateways) for (const b of gateways) if (a !== b) await trustPeer(a, b, allowedLicenceTypes);
}

/** Runs the `tongban` CLI with a gateway's environment; resolves with {code, stdout, stderr}. */
function runCli(o, args) {
  return new Promise((resolve) => {
    const proc = fork(CLI_MAIN, args, { env: gatewayEnv(o), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

module.exports = { ROOT, GATEWAY_MAIN, CLI_MAIN, newSecrets, newPkiSecrets, localPki, gatewayEnv, startGateway, call, trustPeer, connectAll, runCli };
