#!/usr/bin/env node
'use strict';
// Checks the deployment files without Docker or a cluster (neither exists on CI machines):
//   Dockerfile          stages, npm ci / build / --omit=dev, non-root USER, HEALTHCHECK, EXPOSE = ENV ports
//   deploy/compose.yaml PostgreSQL + provinces with ≥ 2 replicas, healthchecks, secrets by reference only,
//                       audit checkpoints exported to a named volume of the province's own
//   deploy/k8s/**       every manifest against the Kubernetes JSON schemas (kubernetes-models, offline),
//                       then each kustomization rendered (a small subset of kustomize) and checked:
//                       probes on routes that exist, ports = gateway config, replicas ≥ 2, PDB/HPA on the
//                       Deployment, non-root and read-only, Secret by reference, settings that exist,
//                       audit checkpoints exported to a PersistentVolumeClaim, one file per pod.
// Facts come from the code: GET routes from apps/gateway/src/http/*.controller.ts, setting names and
// default ports from libs/config/src/gateway-config.ts. Exit 1 with every problem found.
const { existsSync, readFileSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const rel = (p) => path.relative(ROOT, p);
const problems = [];
const problem = (where, msg) => problems.push(`${where}: ${msg}`);
const checked = [];

let YAML;
try {
  YAML = require('yaml');
} catch {
  console.error('check-deploy: the "yaml" package is missing (run npm ci)');
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Facts from the code
// ---------------------------------------------------------------------------------------------

const configSource = readFileSync(path.join(ROOT, 'libs/config/src/gateway-config.ts'), 'utf8');
const schemaBody = configSource.slice(configSource.indexOf('const schema = z'), configSource.indexOf('.strict();'));
const envName = (key) => 'TONGBAN_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
// The licence source settings are spread into the schema from their own file.
const sourceConfig = readFileSync(path.join(ROOT, 'libs/config/src/licence-source-config.ts'), 'utf8');
const sourceShape = sourceConfig.slice(sourceConfig.indexOf('export const licenceSourceShape = {'), sourceConfig.indexOf('\n};'));
const SETTINGS = new Set([...schemaBody.matchAll(/^ {4}([a-zA-Z]+):/gm), ...sourceShape.matchAll(/^ {2}([a-zA-Z]+):/gm)].map((m) => envName(m[1])).concat('TONGBAN_CONFIG'));
if (SETTINGS.size < 20) problem('libs/config/src/gateway-config.ts', 'could not read the setting names (did the schema move?)');
if (!configSource.includes('r.httpPort ?? Number(`80${nn}`)') || !configSource.includes('r.grpcPort ?? Number(`90${nn}`)')) {
  problem('libs/config/src/gateway-config.ts', 'the default ports are no longer 80NN/90NN: update scripts/check-deploy.js');
}
/** The ports a gateway listens on for a set of TONGBAN_* values (the gateway config's rules). */
function effectivePorts(env) {
  const nn = String(env.TONGBAN_CODE ?? '').slice(0, 2);
  return { http: Number(env.TONGBAN_HTTP_PORT ?? `80${nn}`), grpc: Number(env.TONGBAN_GRPC_PORT ?? `90${nn}`), health: env.TONGBAN_HEALTH_PORT ? Number(env.TONGBAN_HEALTH_PORT) : null };
}

const NO_HEALTH_PORT = 'TONGBAN_HEALTH_PORT is not set: probes on the API port wait behind API requests (seconds under load, docs/operations.md §11)';

/** GET routes served by the gateway's HTTP controllers. */
function getRoutes() {
  const dir = path.join(ROOT, 'apps/gateway/src/http');
  const routes = new Set();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.controller.ts'))) {
    const src = readFileSync(path.join(dir, f), 'utf8');
    const prefix = (/@Controller\((?:'([^']*)')?\)/.exec(src) ?? [])[1] ?? '';
    for (const m of src.matchAll(/@Get\((?:'([^']*)')?\)/g)) routes.add('/' + [prefix, m[1] ?? ''].filter(Boolean).join('/'));
  }
  return routes;
}
const ROUTES = getRoutes();
for (const r of ['/health/live', '/health/ready', '/metrics']) if (!ROUTES.has(r)) problem('apps/gateway/src/http', `GET ${r} is not served`);

function checkSettings(where, env) {
  for (const name of Object.keys(env)) if (name.startsWith('TONGBAN_') && !SETTINGS.has(name)) problem(where, `${name} is not a gateway setting (boot would stop with "unknown setting")`);
}

const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSPHRASE/;

/**
 * Gateways in a deployment talk over mutual TLS: the three files, never the development flag, and a
 * key passphrase (in `env`, or from a referenced Secret when `secretRef` is true).
 */
function checkTransport(where, env, secretRef = false) {
  if (/^(true|1)$/.test(String(env.TONGBAN_GRPC_INSECURE ?? ''))) problem(where, 'TONGBAN_GRPC_INSECURE is a development flag (refused in production)');
  for (const k of ['TONGBAN_TLS_CERT', 'TONGBAN_TLS_KEY', 'TONGBAN_TLS_CA']) if (!env[k]) problem(where, `${k} is not set: gateways must use mutual TLS`);
  if (!env.TONGBAN_TLS_KEY_PASSPHRASE && !secretRef) problem(where, 'TONGBAN_TLS_KEY_PASSPHRASE is not set: the TLS key must be encrypted in production');
}

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

function checkDockerfile() {
  const where = 'Dockerfile';
  const file = path.join(ROOT, 'Dockerfile');
  if (!existsSync(file)) return (problem(where, 'missing'), null);
  const lines = readFileSync(file, 'utf8')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args = {};
  const stages = [];
  for (const line of lines) {
    const [, instr, rest = ''] = /^(\w+)\s*(.*)$/.exec(line) ?? [];
    const op = (instr ?? '').toUpperCase();
    const expand = (s) => s.replace(/\$\{?(\w+)\}?/g, (m, n) => args[n] ?? m);
    if (op === 'ARG' && !stages.length) {
      const [k, ...v] = rest.split('=');
      args[k.trim()] = expand(v.join('=').trim());
    } else if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(rest);
      stages.push({ image: expand(m[1]), name: m[2], steps: [], run: [], copy: [], env: {}, expose: [], user: undefined, healthcheck: undefined, cmd: undefined });
    } else if (stages.length) {
      const s = stages[stages.length - 1];
      if (op === 'RUN') s.run.push(rest);
      if (op === 'COPY') s.copy.push(rest);
      if (op === 'RUN' || op === 'COPY') s.steps.push({ op, rest });
      if (op === 'USER') s.user = rest;
      if (op === 'EXPOSE') s.expose.push(...rest.split(/\s+/).map((p) => Number(p.split('/')[0])));
      if (op === 'HEALTHCHECK') s.healthcheck = rest;
      if (op === 'CMD') s.cmd = rest;
      if (op === 'ENV') for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g)) s.env[m[1]] = m[2].replace(/^"|"$/g, '');
    }
  }
  if (stages.length < 2) problem(where, 'needs a build stage and a runtime stage');
  // Base images are build arguments (scripts/image/build.sh passes the registry-free Debian bases);
  // their defaults must be the official Node 20 image.
  for (const s of stages) if (s.image !== 'node:20-bookworm-slim') problem(where, `stage ${s.name ?? '?'} is FROM ${s.image}, expected node:20-bookworm-slim`);
  // The npm configuration is a build secret, never a file in a layer.
  for (const s of stages)
    for (const r of s.run.filter((x) => /\bnpm ci\b/.test(x)))
      if (!/--mount=type=secret,id=npmrc\b/.test(r)) problem(where, `stage ${s.name ?? '?'}: npm ci without the build secret npmrc (RUN --mount=type=secret,id=npmrc,target=/root/.npmrc)`);
  for (const s of stages) if (s.copy.some((c) => /npmrc/.test(c))) problem(where, `stage ${s.name ?? '?'} copies an npmrc into a layer: pass it as the build secret npmrc`);
  const build = stages.find((s) => s.run.some((r) => /\bnpm run build\b/.test(r)));
  if (!build) problem(where, 'no stage runs npm run build');
  else if (!build.run.some((r) => /\bnpm ci\b(?!.*--omit)/.test(r))) problem(where, `stage ${build.name} builds without a full npm ci`);
  const runtime = stages[stages.length - 1];
  const prod = stages.find((s) => s.run.some((r) => /\bnpm ci\b.*--omit=dev/.test(r)));
  if (!prod) problem(where, 'no stage runs npm ci --omit=dev');
  else if (prod !== runtime && !runtime.copy.some((c) => c.includes(`--from=${prod.name}`) && /node_modules/.test(c))) problem(where, `the runtime stage does not take node_modules from ${prod.name}`);
  // A `file:` dependency (tongban-sm2 in native/sm2) must be in the stage before npm ci links and
  // builds it, and node_modules' link to it must still resolve in the runtime stage.
  const fileDeps = Object.values(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).dependencies ?? {})
    .filter((v) => String(v).startsWith('file:'))
    .map((v) =>
      String(v)
        .slice(5)
        .replace(/^\.\/|\/$/g, ''),
    );
  const copies = (c, dir) => c.split(/\s+/).some((t) => !t.startsWith('--') && (dir === t.replace(/^\.\/|\/$/g, '') || dir.startsWith(`${t.replace(/^\.\/|\/$/g, '')}/`)));
  for (const s of stages) {
    const ci = s.steps.findIndex((st) => st.op === 'RUN' && /\bnpm ci\b/.test(st.rest));
    if (ci < 0) continue;
    for (const dir of fileDeps)
      if (!s.steps.slice(0, ci).some((st) => st.op === 'COPY' && !/--from=/.test(st.rest) && copies(st.rest, dir)))
        problem(where, `stage ${s.name ?? '?'}: npm ci before COPY of ${dir} (a file: dependency in package.json)`);
  }
  if (prod && prod !== runtime)
    for (const dir of fileDeps)
      if (!runtime.copy.some((c) => c.includes(`--from=${prod.name}`) && copies(c.replace(/\/src\//g, ''), dir)))
        problem(where, `the runtime stage does not take ${dir} from ${prod.name} (node_modules links to it)`);
  if (runtime.copy.some((c) => /node_modules/.test(c) && build && c.includes(`--from=${build.name}`)))
    problem(where, 'the runtime stage copies node_modules with dev dependencies from the build stage');
  for (const what of ['dist', 'proto', 'data']) if (!runtime.copy.some((c) => new RegExp(`(^|\\s|/)${what}(\\s|/|$)`).test(c))) problem(where, `the runtime stage does not copy ${what}/`);
  if (!runtime.user || /^(root|0)(:|$)/.test(runtime.user)) problem(where, `the runtime stage must run as a non-root USER (found ${runtime.user ?? 'none'})`);
  if (!runtime.healthcheck || !/\bnode\b/.test(runtime.healthcheck)) problem(where, 'the runtime stage needs a HEALTHCHECK that calls node');
  else {
    const route = (/\/health\/[a-z]+/.exec(runtime.healthcheck) ?? [])[0];
    if (route !== '/health/live') problem(where, `HEALTHCHECK must call /health/live (found ${route ?? 'no route'})`);
  }
  if (runtime.env.TONGBAN_ENV !== 'production') problem(where, 'the runtime stage must set TONGBAN_ENV=production');
  checkSettings(where, runtime.env);
  for (const h of ['TONGBAN_HTTP_HOST', 'TONGBAN_GRPC_HOST']) if (runtime.env[h] !== '0.0.0.0') problem(where, `${h} must be 0.0.0.0 in a container (default 127.0.0.1 is unreachable)`);
  const ports = effectivePorts(runtime.env);
  if (!runtime.env.TONGBAN_HTTP_PORT || !runtime.env.TONGBAN_GRPC_PORT) problem(where, 'set TONGBAN_HTTP_PORT and TONGBAN_GRPC_PORT so the image does not depend on the province');
  for (const p of [ports.http, ports.grpc]) if (!runtime.expose.includes(p)) problem(where, `EXPOSE lacks port ${p}`);
  if (!ports.health) problem(where, NO_HEALTH_PORT);
  else {
    if (!runtime.expose.includes(ports.health)) problem(where, `EXPOSE lacks the health port ${ports.health}`);
    if (runtime.healthcheck && !runtime.healthcheck.includes('TONGBAN_HEALTH_PORT')) problem(where, 'HEALTHCHECK must call the health port (TONGBAN_HEALTH_PORT)');
  }
  if (!runtime.cmd || !runtime.cmd.includes('dist/apps/gateway/main.js')) problem(where, 'CMD must start dist/apps/gateway/main.js');
  const ignore = existsSync(path.join(ROOT, '.dockerignore'))
    ? readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
    : null;
  if (!ignore) problem('.dockerignore', 'missing');
  else {
    for (const must of ['node_modules', '.env', '.git']) if (!ignore.includes(must)) problem('.dockerignore', `must exclude ${must}`);
    // What a COPY takes from the build context must not be excluded from it (the build would fail).
    for (const s of stages)
      for (const c of s.copy.filter((x) => !/--from=/.test(x))) {
        const sources = c
          .split(/\s+/)
          .filter((t) => t && !t.startsWith('--'))
          .slice(0, -1);
        for (const src of sources) if (dockerIgnored(ignore, src.replace(/^\.\/|\/$/g, ''))) problem('.dockerignore', `excludes ${src}, which stage ${s.name ?? '?'} copies`);
      }
  }
  checked.push(`Dockerfile: ${stages.length} stages, USER ${runtime.user}, HEALTHCHECK /health/live, EXPOSE ${runtime.expose.join(' ')}`);
  return { user: runtime.user, env: runtime.env };
}

/** Whether .dockerignore `lines` leave `file` out of the build context (a pattern covers a path and all below it; later `!` lines re-include). */
function dockerIgnored(lines, file) {
  const toRe = (pat) =>
    new RegExp(
      `^${pat
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\0')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\0/g, '(.*/)?')}(/.*)?$`,
    );
  let ignored = false;
  for (const line of lines) {
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (toRe(negate ? line.slice(1) : line).test(file)) ignored = !negate;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// deploy/compose.yaml
// ---------------------------------------------------------------------------------------------

function checkCompose(image) {
  const where = 'deploy/compose.yaml';
  const file = path.join(ROOT, 'deploy/compose.yaml');
  if (!existsSync(file)) return problem(where, 'missing');
  const doc = YAML.parse(readFileSync(file, 'utf8'), { merge: true });
  const services = doc?.services ?? {};
  // An image may be a ${VAR:-default} reference (a locally built PostgreSQL, §15.2): its default counts.
  const imageOf = (s) => String(s.image ?? '').replace(/^\$\{[A-Z0-9_]+:?-([^}]*)\}$/, '$1');
  const pg = Object.entries(services).find(([, s]) => /^postgres(:|$)/.test(imageOf(s)));
  if (!pg) problem(where, 'no PostgreSQL service');
  else if (!pg[1].healthcheck?.test) problem(`${where} ${pg[0]}`, 'PostgreSQL needs a healthcheck');
  const toEnv = (e) => (Array.isArray(e) ? Object.fromEntries(e.map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')])) : { ...(e ?? {}) });
  const gateways = Object.entries(services).filter(([, s]) => toEnv(s.environment).TONGBAN_CODE);
  const codes = gateways.map(([, s]) => String(toEnv(s.environment).TONGBAN_CODE)).sort();
  if (JSON.stringify(codes) !== JSON.stringify(['110000', '130000', '440000'])) problem(where, `expected gateways for 110000, 130000 and 440000, found ${codes.join(', ') || 'none'}`);
  const schemas = new Map();
  const auditVolumes = new Map();
  for (const [name, s] of gateways) {
    const at = `${where} ${name}`;
    const env = { ...(image?.env ?? {}), ...toEnv(s.environment) };
    checkSettings(at, env);
    checkTransport(at, env);
    if (!(s.volumes ?? []).some((v) => String(typeof v === 'object' ? v.target : v.split(':')[1]) === '/etc/tongban/tls')) problem(at, 'mount the TLS files at /etc/tongban/tls');
    const replicas = s.deploy?.replicas ?? s.scale ?? 1;
    if (replicas < 2) problem(at, `needs at least 2 replicas (has ${replicas})`);
    if (env.TONGBAN_ENV !== 'production') problem(at, 'TONGBAN_ENV must be production');
    if (!/^postgres(ql)?:\/\//.test(String(env.TONGBAN_DATABASE_URL ?? ''))) problem(at, 'replicas must share PostgreSQL (TONGBAN_DATABASE_URL)');
    if (pg && !String(env.TONGBAN_DATABASE_URL ?? '').includes(`@${pg[0]}:`)) problem(at, `TONGBAN_DATABASE_URL does not point at the ${pg[0]} service`);
    const schema = env.TONGBAN_DATABASE_SCHEMA;
    if (!schema) problem(at, 'each province needs its own TONGBAN_DATABASE_SCHEMA');
    else if (schemas.has(schema)) problem(at, `schema ${schema} is also used by ${schemas.get(schema)}`);
    else schemas.set(schema, name);
    for (const [k, v] of Object.entries(toEnv(s.environment))) {
      if (SECRET_NAME.test(k) && !/^\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}$/.test(String(v))) problem(at, `${k} must be a \${VAR} reference, not a value`);
      const pw = /:\/\/[^:@/]+:([^@]*)@/.exec(String(v));
      if (pw && !/^\$\{[^}]+\}$/.test(pw[1])) problem(at, `${k} holds a password: use a \${VAR} reference`);
    }
    const ports = effectivePorts(env);
    const expose = (s.expose ?? []).map(Number);
    for (const p of [ports.http, ports.grpc]) if (!expose.includes(p)) problem(at, `expose lacks port ${p} (the gateway listens on ${ports.http}/${ports.grpc})`);
    if (!ports.health) problem(at, NO_HEALTH_PORT);
    else if (!expose.includes(ports.health)) problem(at, `expose lacks the health port ${ports.health}`);
    for (const p of s.ports ?? []) {
      const target = Number(typeof p === 'object' ? p.target : String(p).split(':').pop());
      if (![ports.http, ports.grpc, ports.health].includes(target)) problem(at, `published port targets ${target}, which the gateway does not listen on`);
      // Replicas cannot share a host port, and podman cannot map a host range to one port (§15.2).
      const published = typeof p === 'object' ? p.published : String(p).split(':').slice(-2, -1)[0];
      if (replicas > 1 && published !== undefined && published !== '') problem(at, `publishes host port ${published} for ${replicas} replicas: leave the host port empty ("127.0.0.1::${target}")`);
    }
    // podman-compose 1.0.3 takes "CMD" off a list healthcheck shared by replicas (the second then fails).
    if (replicas > 1 && Array.isArray(s.healthcheck?.test)) problem(at, 'healthcheck test must be a string (CMD-SHELL) with replicas: podman-compose cannot start the second replica of a list one');
    const test = [].concat(s.healthcheck?.test ?? []).join(' ');
    const url = /https?:\/\/[^/'"\s]+:(\d+)(\/[A-Za-z0-9/._-]*)/.exec(test);
    if (!url) problem(at, 'needs a healthcheck calling the gateway over HTTP');
    else {
      if (!ROUTES.has(url[2])) problem(at, `healthcheck calls ${url[2]}, which is not a route`);
      if (ports.health && Number(url[1]) !== ports.health) problem(at, `healthcheck calls port ${url[1]}, not the health port ${ports.health}`);
    }
    const user = s.user ?? image?.user;
    if (!user || /^(root|0)(:|$)/.test(String(user))) problem(at, `must not run as root (user ${user ?? 'unset'})`);
    if (pg && s.depends_on?.[pg[0]]?.condition !== 'service_healthy') problem(at, `must wait for ${pg[0]} to be healthy`);
    if (!s.image && !s.build) problem(at, 'needs an image or a build');
    checkComposeCheckpointFile(at, env, s, pg?.[1], auditVolumes, name);
  }
  checked.push(`compose: ${pg ? pg[0] : 'no database'} + ${gateways.map(([n, s]) => `${n}×${s.deploy?.replicas ?? s.scale ?? 1}`).join(', ')}`);
}

/** The directory part of a path (POSIX), or '' when there is none. */
const dirOf = (p) => p.slice(0, p.lastIndexOf('/'));
const under = (file, dir) => file.startsWith(dir.replace(/\/$/, '') + '/');

/**
 * The audit checkpoint trail (docs/audit.md §4.1) must be exported, to a file that outlives the
 * container and is not on the database's volume: a named volume of its own, writable, one per province.
 */
function checkComposeCheckpointFile(at, env, s, pgService, auditVolumes, name) {
  const file = String(env.TONGBAN_AUDIT_CHECKPOINT_FILE ?? '');
  if (!file) return problem(at, 'TONGBAN_AUDIT_CHECKPOINT_FILE is not set: export audit checkpoints to a file on a volume of their own');
  if (!file.startsWith('/')) return problem(at, `TONGBAN_AUDIT_CHECKPOINT_FILE ${file} must be an absolute path on a mounted volume`);
  const mounts = (s.volumes ?? []).map((v) =>
    typeof v === 'object' ? { source: v.source, target: v.target, ro: v.read_only === true, type: v.type } : { source: v.split(':')[0], target: v.split(':')[1], ro: /:ro$/.test(v), type: undefined },
  );
  const m = mounts.filter((v) => under(file, v.target)).sort((a, b) => b.target.length - a.target.length)[0];
  if (!m) return problem(at, `TONGBAN_AUDIT_CHECKPOINT_FILE ${file} is not on a mounted volume (the container's root filesystem is read-only and goes with it)`);
  if (m.ro) problem(at, `TONGBAN_AUDIT_CHECKPOINT_FILE is on ${m.target}, mounted read-only`);
  if (m.type === 'tmpfs' || !m.source || /^[./~]/.test(m.source)) problem(at, `TONGBAN_AUDIT_CHECKPOINT_FILE is on ${m.target}, which is not a named volume`);
  const pgVolumes = (pgService?.volumes ?? []).map((v) => (typeof v === 'object' ? v.source : v.split(':')[0]));
  if (pgVolumes.includes(m.source)) problem(at, `TONGBAN_AUDIT_CHECKPOINT_FILE is on ${m.source}, the database's volume`);
  if (auditVolumes.has(m.source)) problem(at, `audit volume ${m.source} is also used by ${auditVolumes.get(m.source)}`);
  else auditVolumes.set(m.source, name);
}

/**
 * Kubernetes: the checkpoint file is on a PersistentVolumeClaim (not emptyDir, not the image), on a
 * writable mount, and with more than one replica each pod has its own file ($(VAR) of the pod name).
 */
function checkK8sCheckpointFile(where, env, c, pod, replicas) {
  const file = String(env.TONGBAN_AUDIT_CHECKPOINT_FILE ?? '');
  if (!file) return problem(where, 'TONGBAN_AUDIT_CHECKPOINT_FILE is not set: export audit checkpoints to a file on a persistent volume');
  const m = (c.volumeMounts ?? []).filter((v) => under(file, v.mountPath)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!m) return problem(where, `TONGBAN_AUDIT_CHECKPOINT_FILE ${file} is not on a mounted volume`);
  if (m.readOnly) problem(where, `TONGBAN_AUDIT_CHECKPOINT_FILE is on ${m.mountPath}, mounted read-only`);
  const volume = (pod.volumes ?? []).find((v) => v.name === m.name);
  if (!volume?.persistentVolumeClaim?.claimName) problem(where, `TONGBAN_AUDIT_CHECKPOINT_FILE is on volume ${m.name}, which is not a PersistentVolumeClaim (it would go with the pod)`);
  const podNameVars = (c.env ?? []).filter((e) => e.valueFrom?.fieldRef?.fieldPath === 'metadata.name').map((e) => e.name);
  if (replicas > 1 && !podNameVars.some((n) => file.slice(dirOf(file).length).includes(`$(${n})`)))
    problem(where, 'TONGBAN_AUDIT_CHECKPOINT_FILE must name one file per pod ($(POD_NAME) from fieldRef metadata.name): pods share the volume');
}

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

const yamlFiles = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
const readDocs = (file) =>
  YAML.parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) problem(rel(file), d.errors[0].message);
    return d.toJS();
  });

let k8sModels;
try {
  const dir = path.dirname(require.resolve('kubernetes-models/package.json'));
  k8sModels = { module: (group) => require(`kubernetes-models/${group}`), schemaFile: (name) => path.join(dir, '_schemas', `${name}.js`) };
} catch {
  k8sModels = undefined;
}

/** Validates one object against the Kubernetes JSON schema of its apiVersion/kind (offline). */
function validateSchema(where, obj) {
  if (!k8sModels) return;
  let Model;
  try {
    Model = k8sModels.module(obj.apiVersion.includes('/') ? obj.apiVersion : `v1`)[obj.kind];
  } catch {
    Model = undefined;
  }
  if (!Model) return problem(where, `no Kubernetes schema for ${obj.apiVersion} ${obj.kind}`);
  try {
    new Model(obj).validate();
  } catch (e) {
    problem(where, `schema: ${e.message}`);
  }
  strictKeys(where, obj);
}

// The schemas allow unknown fields (as the API server does, silently dropping them). A typo in a
// probe or security setting would then pass unnoticed, so the hand-written parts are checked
// strictly against the field names in the compiled schema of their type.
const STRICT = [
  ['Deployment', (o) => [o.spec], 'IoK8sApiAppsV1DeploymentSpec'],
  ['Deployment', (o) => [o.spec?.template?.spec], 'IoK8sApiCoreV1PodSpec'],
  ['Deployment', (o) => [o.spec?.template?.spec?.securityContext], 'IoK8sApiCoreV1PodSecurityContext'],
  ['Deployment', (o) => containers(o), 'IoK8sApiCoreV1Container'],
  ['Deployment', (o) => containers(o).flatMap((c) => [c.readinessProbe, c.livenessProbe, c.startupProbe]), 'IoK8sApiCoreV1Probe'],
  ['Deployment', (o) => containers(o).flatMap((c) => [c.readinessProbe, c.livenessProbe, c.startupProbe].map((p) => p?.httpGet)), 'IoK8sApiCoreV1HTTPGetAction'],
  ['Deployment', (o) => containers(o).map((c) => c.securityContext), 'IoK8sApiCoreV1SecurityContext'],
  ['Deployment', (o) => containers(o).map((c) => c.resources), 'IoK8sApiCoreV1ResourceRequirements'],
  ['Deployment', (o) => containers(o).flatMap((c) => c.ports ?? []), 'IoK8sApiCoreV1ContainerPort'],
  ['Service', (o) => [o.spec], 'IoK8sApiCoreV1ServiceSpec'],
  ['Service', (o) => o.spec?.ports ?? [], 'IoK8sApiCoreV1ServicePort'],
  ['PodDisruptionBudget', (o) => [o.spec], 'IoK8sApiPolicyV1PodDisruptionBudgetSpec'],
  ['HorizontalPodAutoscaler', (o) => [o.spec], 'IoK8sApiAutoscalingV2HorizontalPodAutoscalerSpec'],
];
const fieldCache = new Map();
function fieldsOf(schema) {
  if (!fieldCache.has(schema)) {
    const src = readFileSync(k8sModels.schemaFile(schema), 'utf8');
    fieldCache.set(schema, new Set([...src.matchAll(/\bdata\.([a-zA-Z]+)\b/g)].map((m) => m[1])));
  }
  return fieldCache.get(schema);
}
function containers(o) {
  return o.spec?.template?.spec?.containers ?? [];
}
function strictKeys(where, obj) {
  for (const [kind, pick, schema] of STRICT) {
    if (obj.kind !== kind) continue;
    for (const part of pick(obj)) {
      if (!part || typeof part !== 'object') continue;
      for (const key of Object.keys(part)) if (!fieldsOf(schema).has(key)) problem(where, `unknown field "${key}" (${schema.replace(/^IoK8sApi/, '')})`);
    }
  }
}

/** Renders a kustomization (resources, namespace, labels, inline JSON6902 patches: the subset used here). */
function renderKustomization(dir) {
  const where = rel(path.join(dir, 'kustomization.yaml'));
  const k = YAML.parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  const known = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'labels', 'patches']);
  for (const key of Object.keys(k)) if (!known.has(key)) problem(where, `"${key}" is not supported by scripts/check-deploy.js (extend its renderer first)`);
  let objs = [];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    if (existsSync(path.join(p, 'kustomization.yaml'))) objs.push(...renderKustomization(p));
    else if (existsSync(p)) objs.push(...readDocs(p).filter(Boolean));
    else problem(where, `resource ${r} not found`);
  }
  objs = JSON.parse(JSON.stringify(objs));
  for (const patch of k.patches ?? []) {
    const t = patch.target ?? {};
    const targets = objs.filter((o) => (!t.kind || o.kind === t.kind) && (!t.name || o.metadata?.name === t.name));
    if (targets.length !== 1) problem(where, `patch target ${t.kind}/${t.name} matches ${targets.length} objects`);
    const ops = typeof patch.patch === 'string' ? YAML.parse(patch.patch) : null;
    if (!Array.isArray(ops)) {
      problem(where, 'only inline JSON6902 patches are supported');
      continue;
    }
    for (const o of targets) for (const op of ops) applyOp(where, o, op);
  }
  if (k.namespace) {
    for (const o of objs) {
      if (o.kind === 'Namespace') o.metadata.name = k.namespace;
      else o.metadata.namespace = k.namespace;
    }
  }
  for (const l of k.labels ?? []) {
    if (l.includeSelectors || l.includeTemplates) problem(where, 'labels with includeSelectors/includeTemplates are not supported');
    for (const o of objs) o.metadata.labels = { ...(o.metadata.labels ?? {}), ...l.pairs };
  }
  return objs;
}
function applyOp(where, obj, op) {
  const keys = String(op.path)
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  let at = obj;
  for (const key of keys) at = at?.[key];
  if (!at || typeof at !== 'object') return problem(where, `patch path ${op.path} does not exist`);
  if (op.op === 'replace' && !(last in at)) return problem(where, `patch replaces ${op.path}, which does not exist`);
  if (op.op === 'replace' || op.op === 'add') at[last] = op.value;
  else if (op.op === 'remove') delete at[last];
  else problem(where, `patch op ${op.op} is not supported`);
}

const matches = (selector, labels) => !!selector && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Checks one rendered province: the objects `kubectl apply -k <dir>` would create. */
function checkProvince(dir, objs) {
  const where = rel(dir);
  const one = (kind) => {
    const found = objs.filter((o) => o.kind === kind);
    if (found.length !== 1) problem(where, `expected one ${kind}, found ${found.length}`);
    return found[0];
  };
  const ns = one('Namespace');
  const cm = one('ConfigMap');
  const dep = one('Deployment');
  const svc = one('Service');
  const pdb = one('PodDisruptionBudget');
  const hpa = one('HorizontalPodAutoscaler');
  if (objs.some((o) => o.kind === 'Secret')) problem(where, 'a Secret is committed: reference it (envFrom secretRef) and create it out of band');
  for (const o of objs) {
    validateSchema(`${where} ${o.kind}/${o.metadata?.name}`, o);
    if (o.kind !== 'Namespace' && ns && o.metadata?.namespace !== ns.metadata.name) problem(where, `${o.kind}/${o.metadata?.name} is not in namespace ${ns.metadata.name}`);
  }
  if (!ns || !cm || !dep) return;
  const settings = cm.data ?? {};
  const code = String(settings.TONGBAN_CODE ?? '');
  if (!/^\d{2}0000$/.test(code)) problem(where, `ConfigMap TONGBAN_CODE ${code || '(missing)'} is not a province code`);
  if (ns.metadata.name !== `tongban-${code}`) problem(where, `namespace ${ns.metadata.name} does not match TONGBAN_CODE ${code}`);
  if (settings.TONGBAN_DATABASE_SCHEMA !== `tongban_${code}`) problem(where, `TONGBAN_DATABASE_SCHEMA must be tongban_${code} (found ${settings.TONGBAN_DATABASE_SCHEMA})`);
  if (settings.TONGBAN_ENV !== 'production') problem(where, 'TONGBAN_ENV must be production');
  for (const k of Object.keys(settings)) if (SECRET_NAME.test(k) || k === 'TONGBAN_DATABASE_URL') problem(where, `ConfigMap holds ${k}: secrets belong in the Secret`);
  checkSettings(`${where} ConfigMap`, settings);

  const spec = dep.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const podLabels = spec.template?.metadata?.labels ?? {};
  if (!(spec.replicas >= 2)) problem(where, `Deployment needs at least 2 replicas (has ${spec.replicas})`);
  if (!matches(spec.selector?.matchLabels, podLabels)) problem(where, 'Deployment selector does not match its pod labels');
  if (pod.enableServiceLinks !== false) problem(where, 'enableServiceLinks must be false: service links inject TONGBAN_*_SERVICE_HOST, an unknown setting that stops boot');
  const psc = pod.securityContext ?? {};
  if (psc.runAsNonRoot !== true || !(psc.runAsUser > 0)) problem(where, 'pod securityContext must set runAsNonRoot: true and a non-zero runAsUser');
  const c = containers(dep)[0];
  if (containers(dep).length !== 1 || !c) return problem(where, 'expected exactly one container');
  const sc = c.securityContext ?? {};
  if (sc.readOnlyRootFilesystem !== true) problem(where, 'container must have readOnlyRootFilesystem: true');
  if (sc.allowPrivilegeEscalation !== false) problem(where, 'container must set allowPrivilegeEscalation: false');
  if (!(sc.capabilities?.drop ?? []).includes('ALL')) problem(where, 'container must drop ALL capabilities');
  if (sc.runAsUser === 0 || sc.runAsNonRoot === false) problem(where, 'container must not run as root');
  for (const r of ['requests', 'limits']) if (!c.resources?.[r]?.memory || !c.resources?.[r]?.cpu) problem(where, `container needs resources.${r} for cpu and memory`);
  const env = { ...settings };
  for (const e of c.env ?? []) {
    env[e.name] = e.value;
    if ((SECRET_NAME.test(e.name) || e.name === 'TONGBAN_DATABASE_URL') && e.value !== undefined) problem(where, `${e.name} has a literal value: use secretKeyRef`);
  }
  checkSettings(`${where} container env`, env);
  checkK8sCheckpointFile(where, env, c, pod, spec.replicas ?? 1);
  // The passphrase comes from the Secret (envFrom secretRef), which is not in the repository.
  checkTransport(
    `${where} container env`,
    env,
    (c.envFrom ?? []).some((r) => r.secretRef?.name),
  );
  const tlsMount = (c.volumeMounts ?? []).find((m) => m.mountPath === '/etc/tongban/tls');
  const tlsVolume = tlsMount && (pod.volumes ?? []).find((v) => v.name === tlsMount.name);
  if (!tlsVolume?.secret?.secretName) problem(where, 'mount the TLS files at /etc/tongban/tls from a Secret');
  for (const k of ['TONGBAN_TLS_CERT', 'TONGBAN_TLS_KEY', 'TONGBAN_TLS_CA'])
    if (env[k] && !String(env[k]).startsWith('/etc/tongban/tls/')) problem(where, `${k} must point into the mounted /etc/tongban/tls`);
  const refs = c.envFrom ?? [];
  if (!refs.some((r) => r.configMapRef?.name === cm.metadata.name)) problem(where, `container does not load ConfigMap ${cm.metadata.name}`);
  if (!refs.some((r) => r.secretRef?.name)) problem(where, 'container does not reference a Secret (envFrom secretRef) for the keys and tokens');
  const ports = effectivePorts(env);
  const named = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  if (named.http !== ports.http || named.grpc !== ports.grpc) problem(where, `container ports http/grpc are ${named.http}/${named.grpc}, the gateway listens on ${ports.http}/${ports.grpc}`);
  if (!ports.health) problem(where, NO_HEALTH_PORT);
  else if (named.health !== ports.health) problem(where, `container port health is ${named.health}, the health listener is on ${ports.health}`);
  const probe = (name, route) => {
    const p = c[name];
    if (!p?.httpGet) return problem(where, `${name} must be an httpGet probe`);
    if (p.httpGet.path !== route) problem(where, `${name} must call ${route} (calls ${p.httpGet.path})`);
    if (!ROUTES.has(p.httpGet.path)) problem(where, `${name} calls ${p.httpGet.path}, which is not a route`);
    const port = typeof p.httpGet.port === 'string' ? named[p.httpGet.port] : p.httpGet.port;
    if (ports.health && port !== ports.health) problem(where, `${name} calls port ${p.httpGet.port}, not the health port ${ports.health}`);
  };
  probe('readinessProbe', '/health/ready');
  probe('livenessProbe', '/health/live');
  if (c.startupProbe) probe('startupProbe', '/health/live');
  const grace = Number(env.TONGBAN_SHUTDOWN_GRACE_MS ?? 2000) / 1000;
  if ((pod.terminationGracePeriodSeconds ?? 30) < grace + 10) problem(where, `terminationGracePeriodSeconds must leave ≥ 10 s after the ${grace} s shutdown grace`);

  if (svc) {
    if (!matches(svc.spec?.selector, podLabels)) problem(where, 'Service selector does not match the pods');
    const targets = (svc.spec?.ports ?? []).map((p) => (typeof p.targetPort === 'string' ? named[p.targetPort] : (p.targetPort ?? p.port)));
    for (const p of [ports.http, ports.grpc]) if (!targets.includes(p)) problem(where, `Service does not route to container port ${p}`);
  }
  if (pdb) {
    if (pdb.spec?.minAvailable !== 1) problem(where, `PodDisruptionBudget minAvailable must be 1 (found ${pdb.spec?.minAvailable})`);
    if (!matches(pdb.spec?.selector?.matchLabels, podLabels) || !matches(pdb.spec?.selector?.matchLabels, spec.selector?.matchLabels))
      problem(where, 'PodDisruptionBudget does not select the Deployment pods');
  }
  if (hpa) {
    const t = hpa.spec?.scaleTargetRef ?? {};
    if (t.kind !== 'Deployment' || t.name !== dep.metadata.name || t.apiVersion !== 'apps/v1')
      problem(where, `HorizontalPodAutoscaler targets ${t.apiVersion} ${t.kind}/${t.name}, not the Deployment`);
    if (!(hpa.spec?.minReplicas >= 2)) problem(where, 'HorizontalPodAutoscaler minReplicas must be at least 2');
    if (!(hpa.spec?.maxReplicas >= hpa.spec?.minReplicas)) problem(where, 'HorizontalPodAutoscaler maxReplicas < minReplicas');
  }
  checked.push(`k8s ${where}: ${code} in ${ns.metadata.name}, ${spec.replicas} replicas, ports ${ports.http}/${ports.grpc}`);
  return code;
}

function checkKubernetes() {
  const dir = path.join(ROOT, 'deploy/k8s');
  if (!existsSync(dir)) return problem('deploy/k8s', 'missing');
  const files = yamlFiles(dir);
  for (const f of files) {
    for (const doc of readDocs(f)) {
      if (!doc) continue;
      const where = rel(f);
      if (doc.kind === 'Kustomization') continue;
      if (!doc.apiVersion || !doc.kind || !doc.metadata?.name) problem(where, 'every manifest needs apiVersion, kind and metadata.name');
      if (doc.kind === 'Secret' && (doc.data || doc.stringData)) problem(where, 'a Secret with values is committed');
      for (const [k, v] of Object.entries(doc.data ?? {})) if (SECRET_NAME.test(k) && v) problem(where, `${k} looks like a secret value`);
    }
  }
  const dirs = [...new Set(files.filter((f) => path.basename(f) === 'kustomization.yaml').map(path.dirname))];
  if (!dirs.length) problem('deploy/k8s', 'no kustomization');
  const codes = new Map();
  for (const d of dirs) {
    const code = checkProvince(d, renderKustomization(d));
    if (code && codes.has(code)) problem(rel(d), `stamps province ${code} again (also ${codes.get(code)})`);
    if (code) codes.set(code, rel(d));
  }
  if (!k8sModels) problems.push('deploy/k8s: kubernetes-models is not installed, so no schema validation ran (run npm ci)');
  else checked.push(`k8s schemas: kubernetes-models ${require('kubernetes-models/package.json').version} (offline), ${files.length} files`);
}

// ---------------------------------------------------------------------------------------------
// podman (scripts/image/, docs/operations.md §15.1)
// ---------------------------------------------------------------------------------------------

function checkPodman() {
  const where = 'deploy/podman/containers.conf';
  const file = path.join(ROOT, where);
  if (!existsSync(file)) return problem(where, 'missing (image:build and image:test point CONTAINERS_CONF at it)');
  const conf = readFileSync(file, 'utf8');
  if (!/^\s*runtime\s*=\s*"runc"/m.test(conf)) problem(where, '[engine] runtime = "runc" is required on these machines (crun is refused)');
  if (!/^\s*default_ulimits\s*=\s*\[\s*\]/m.test(conf)) problem(where, '[containers] default_ulimits = [] is required on these machines');
  const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts ?? {};
  for (const name of ['image:build', 'image:test']) {
    const target = /scripts\/image\/\S+/.exec(scripts[name] ?? '')?.[0];
    if (!target || !existsSync(path.join(ROOT, target))) problem('package.json', `script ${name} must run a file of scripts/image/ (found ${scripts[name] ?? 'none'})`);
  }
  checked.push('podman: containers.conf (runc, no default ulimits), image:build and image:test');
}

const image = checkDockerfile();
checkCompose(image);
checkPodman();
checkKubernetes();

if (problems.length) {
  console.error(`check-deploy: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`deploy: ok\n  ${checked.join('\n  ')}`);
