'use strict';
// podman for scripts/image/image-test.js: every call goes through the committed containers.conf
// (deploy/podman/containers.conf: runc, no default ulimits), and every container and volume made
// is remembered so that cleanup() removes them, on success, failure or Ctrl-C.
const { spawn } = require('node:child_process');
const { chmodSync, mkdirSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const ENV = { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF || path.join(ROOT, 'deploy', 'podman', 'containers.conf') };
const IMAGE = process.env.TONGBAN_IMAGE || 'localhost/tongban-gateway:0.1.0';

const containers = new Set();
const volumes = new Set();

/**
 * Runs `podman ...args`; resolves {code, stdout, stderr}. Rejects on a non-zero exit unless `allowFail`.
 * @param {string[]} args
 * @param {{allowFail?: boolean, env?: Record<string, string>, input?: Buffer | string, cmd?: string}} [o] `env`: extra
 *   variables for podman itself (for `-e NAME` without a value, so secrets stay off the command line);
 *   `input`: written to its standard input; `cmd`: another program than podman (podman-compose)
 */
function podman(args, o = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(o.cmd || 'podman', args, { env: { ...ENV, ...(o.env || {}) }, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (o.input !== undefined) proc.stdin.end(o.input);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c) => (stdout += c));
    proc.stderr.on('data', (c) => (stderr += c));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const r = { code, stdout: stdout.trim(), stderr: stderr.trim() };
      if (code !== 0 && !o.allowFail) reject(new Error(`${o.cmd || 'podman'} ${args.slice(0, 3).join(' ')} … exited ${code}: ${r.stderr.slice(-2000)}`));
      else resolve(r);
    });
  });
}

/** `podman run -d --name name ...args IMAGE ...cmd`, remembered for cleanup. */
async function runDetached(name, args, cmd = [], o = {}) {
  containers.add(name);
  await podman(['run', '-d', '--name', name, ...args, IMAGE, ...cmd], o);
}

/** `podman run --rm ...args IMAGE ...cmd` (a one-off CLI command); resolves {code, stdout, stderr}. */
function runOnce(args, cmd, o = {}) {
  return podman(['run', '--rm', ...args, IMAGE, ...cmd], o);
}

/** A named volume, remembered for cleanup. */
async function volume(name) {
  volumes.add(name);
  await podman(['volume', 'create', name]);
  return name;
}

/** `podman inspect --format` of a container. */
async function inspect(name, format) {
  return (await podman(['inspect', '--format', format, name])).stdout;
}

/** An image's size in bytes (0 if it does not exist); default the gateway image. */
async function imageSize(image = IMAGE) {
  const r = await podman(['image', 'inspect', '--format', '{{.Size}}', image], { allowFail: true });
  return r.code === 0 ? Number(r.stdout) : 0;
}

/**
 * Mutual TLS material in `dir` made by `tongban tls ca|issue` run in the image (as its user, uid 1000,
 * so the gateways can read the keys): a CA and a certificate per code, valid for `hosts`.
 * @param {string} dir created here
 * @param {string[]} codes
 * @param {string[]} hosts
 * @param {{caPassphrase: string, keyPassphrase: string}} pki
 */
async function imageTls(dir, codes, hosts, pki) {
  mkdirSync(dir);
  chmodSync(dir, 0o777); // written by the image's user (uid 1000); the gateways read it as that user
  const env = { CA_KEY_PASSPHRASE: pki.caPassphrase, TONGBAN_TLS_KEY_PASSPHRASE: pki.keyPassphrase };
  const args = ['--network', 'none', '--read-only', '-e', 'CA_KEY_PASSPHRASE', '-e', 'TONGBAN_TLS_KEY_PASSPHRASE', '-v', `${dir}:/tls`];
  await runOnce(args, ['node', 'dist/apps/cli/main.js', 'tls', 'ca', '--out', '/tls', '--name', 'Tongban image test CA', '--days', '2'], { env });
  const hostArgs = hosts.flatMap((h) => ['--host', h]);
  await runOnce(args, ['node', 'dist/apps/cli/main.js', 'tls', 'issue', '--ca', '/tls', '--out', '/tls', '--code', codes.join(','), ...hostArgs, '--days', '2'], { env });
}

/** Removes every container (at once, no grace) and volume this run made. Never throws. */
async function cleanup() {
  for (const c of [...containers].reverse()) {
    const r = await podman(['rm', '-f', '-t', '0', c], { allowFail: true });
    if (r.code === 0 || /no such container/i.test(r.stderr)) containers.delete(c);
    else console.error(`cleanup: podman rm ${c}: ${r.stderr}`);
  }
  for (const v of volumes) {
    const r = await podman(['volume', 'rm', '-f', v], { allowFail: true });
    if (r.code === 0 || /no such volume/i.test(r.stderr)) volumes.delete(v);
    else console.error(`cleanup: podman volume rm ${v}: ${r.stderr}`);
  }
}

module.exports = { ROOT, IMAGE, podman, runDetached, runOnce, volume, inspect, imageSize, imageTls, cleanup };
