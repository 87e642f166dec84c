import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { findUp, parseCidr } from '@tongban/common';
import { JWS_ALGORITHMS } from '@tongban/gm';
import { LicenceSourceSettings, licenceSourceSettings, licenceSourceShape } from './licence-source-config';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1')]);
const ALGS = JWS_ALGORITHMS;
// How secrets are sealed at rest (docs/operations.md §19): both formats always open; a change re-seals at start.
const SEAL_ALGS = ['AES-256-GCM', 'SM4-CTR-HMAC-SM3'] as const;

/** Every setting, with its environment variable (TONGBAN_ + UPPER_SNAKE of the key). */
const schema = z
  .object({
    code: z.string().regex(/^\d{6}$/, 'must be a 6-digit participant code, e.g. 110000'),
    env: z.enum(['development', 'test', 'production']).default('development'),
    httpHost: z.string().min(1).default('127.0.0.1'),
    httpPort: int(1, 65535).optional(),
    healthPort: int(1, 65535).optional(),
    httpRequestTimeoutMs: int(1000, 3_600_000).default(300_000),
    grpcHost: z.string().min(1).default('127.0.0.1'),
    grpcPort: int(1, 65535).optional(),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
      .optional(),
    // At least 2: migrations hold one connection for the advisory lock and run on another.
    databasePoolSize: int(2, 200).default(10),
    databaseSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
      .optional(),
    // pg_stat_activity.application_name of every backend (default tongban-<code>): replicas of one
    // province, or gateways sharing a database, are told apart by giving each its own.
    databaseApplicationName: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,58}$/, 'must be 1–58 characters of A–Z, a–z, 0–9, dot, underscore, colon or hyphen')
      .optional(),
    sqlitePath: z.string().min(1).optional(),
    keyEncryptionSecret: z.string().optional(),
    // During a rotation of the key-encryption secret (docs/operations.md §4.1b): the secret rotated
    // away from; values sealed under it still open until `tongban secrets rotate` has moved them all.
    keyEncryptionSecretPrevious: z.string().optional(),
    // Test only (refused in production): `tongban secrets rotate` stops after this many rows, so a
    // test can kill it at a known point.
    testRotatePauseAfter: int(1, 1_000_000).optional(),
    sealAlg: z.enum(SEAL_ALGS, { message: `must be one of ${SEAL_ALGS.join(', ')}` }).default('AES-256-GCM'),
    apiTokens: z.string().optional(),
    adminToken: z.string().optional(),
    signingAlg: z.enum(ALGS).default('EdDSA'),
    // SM2 arithmetic: the tongban-sm2 addon if it loaded (auto), the addon or no start (required), OpenSSL (off).
    sm2Native: z.enum(['auto', 'required', 'off'], { message: 'must be one of auto, required, off' }).default('auto'),
    // One memory-reducing GC at the end of start-up, before ready (docs/operations.md §1).
    memoryReleaseAfterStart: bool.default(true),
    // Single verifications to one issuer in one event-loop turn share one signed call (docs/operations.md §1).
    verifyCoalesce: bool.default(true),
    allowedAlgs: z
      .string()
      .default('EdDSA,ES256,SM2SM3')
      .transform((s) =>
        s
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(ALGS, { message: 'only EdDSA, ES256 and SM2SM3 may be allowed (never none, HS* or RS*)' })).min(1)),
    // Digest of the `dig` claim of envelopes we send (docs/protocol.md §3.5); receivers accept both.
    envelopeDigest: z.enum(['SHA-256', 'SM3'], { message: 'must be SHA-256 or SM3' }).default('SHA-256'),
    messageTtlS: int(10, 300).default(120),
    clockSkewS: int(0, 300).default(60),
    maxPayloadBytes: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
    peerDeadlineMs: int(100, 60_000).default(3000),
    // Connect to each trusted peer when it becomes known, not at its first call (docs/operations.md §1).
    peerPreconnect: bool.default(true),
    // Refusals before signature verification, per TLS peer (docs/operations.md §10.5): a budget
    // refilled at refusalRatePerS up to refusalBurst (spent: TOO_MANY_REFUSALS before any work),
    // and one audit row per (TLS peer, RPC, code) per window plus one aggregate (0: a row each).
    refusalRatePerS: z.coerce.number().min(0.01).max(100_000).default(5),
    refusalBurst: int(1, 1_000_000).default(50),
    refusalAuditWindowS: int(0, 86_400).default(60),
    participantsFile: z.string().optional(),
    extraParticipants: z.string().optional(),
    licenceTypesFile: z.string().optional(),
    grpcReflection: bool.optional(),
    // Mutual TLS on the federation port and for calls to peers (docs/operations.md §18): the
    // gateway's certificate chain, its private key (encrypted PKCS#8 in production), the key's
    // passphrase, and the CA certificates trusted for peers. Checked for changes every tlsReloadS.
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    tlsKeyPassphrase: z.string().optional(),
    tlsCa: z.string().min(1).optional(),
    tlsReloadS: int(0, 86_400).default(60),
    // Development only: plaintext gRPC between gateways. Refused in production; warned at every start.
    grpcInsecure: bool.default(false),
    trustRefreshS: int(0, 3600).default(10),
    // Signed status lists (docs/protocol-status.md): re-signed at least this often; askers rely on a list this long.
    statusListTtlS: int(1, 86_400).default(300),
    catalogueFile: z.string().optional(),
    calendarFile: z.string().optional(),
    deadLetterAgeS: int(60, 90 * 24 * 3600).default(7 * 24 * 3600),
    deliveryDeadAfterFailures: int(1, 1000).default(5),
    // Retention (docs/operations.md §10.8): days after which finished rows are deleted; 0 keeps them.
    retentionIntervalS: int(0, 86_400).default(3600),
    retentionBatchSize: int(10, 100_000).default(1000),
    retentionOutboxDays: int(0, 36_500).default(30),
    retentionInboxDays: int(0, 36_500).default(30),
    retentionWebhookDeliveriesDays: int(0, 36_500).default(30),
    retentionMaterialDays: int(0, 36_500).default(0),
    keyOverlapHours: z.coerce.number().min(0).max(720).default(24),
    deliveryBackoffBaseMs: int(10, 60_000).default(500),
    deliveryBackoffCapMs: int(100, 3_600_000).default(300_000),
    deliveryPollMs: int(10, 60_000).default(1000),
    // Safety poll of an idle worker: its wait doubles from deliveryPollMs up to this after empty rounds.
    deliveryIdlePollMs: int(10, 600_000).default(30_000),
    deliveryConcurrency: int(1, 256).default(16),
    materialMaxBytes: int(1024, 64 * 1024 * 1024).default(20 * 1024 * 1024),
    webhookBackoffBaseMs: int(10, 3_600_000).default(1000),
    webhookBackoffCapMs: int(100, 24 * 3_600_000).default(3_600_000),
    webhookMaxAttempts: int(1, 100).default(12),
    webhookTimeoutMs: int(100, 60_000).default(5000),
    // Address ranges webhooks may reach although they are not public (loopback, private, link-local, …).
    webhookAllowCidrs: z
      .string()
      .default('')
      .transform((s, ctx) => {
        const list = s
          .split(',')
          .map((c) => c.trim())
          .filter(Boolean);
        for (const c of list) {
          try {
            parseCidr(c);
          } catch (e) {
            ctx.addIssue({ code: 'custom', message: (e as Error).message });
          }
        }
        return list;
      }),
    webhookMaxPerClient: int(1, 10_000).default(20),
    // Licence status notices (docs/protocol-notices.md): live subscriptions per peer, and how long one lasts (≤ 180 days).
    noticeMaxPerPeer: int(1, 10_000_000).default(100_000),
    noticeTtlDays: int(1, 180).default(90),
    logLevel: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
    // Audit checkpoints (docs/audit.md §4): every so many seconds and entries, and a copy of each
    // outside the database (JSON lines, fsynced), which `tongban audit verify --checkpoints` compares.
    auditCheckpointS: int(0, 86_400).default(300),
    auditCheckpointEntries: int(0, 10_000_000).default(10_000),
    auditCheckpointFile: z.string().min(1).optional(),
    // Hash of new audit entries (docs/audit.md §2); each entry records its own, so a change is safe mid-chain.
    auditHash: z.enum(['SHA-256', 'SM3'], { message: 'must be SHA-256 or SM3' }).default('SHA-256'),
    // Federation directory: the anchor's PUBLIC JWK (file path or inline JSON) and where the signed
    // directory is (file path or http(s) URL). Directory mode is off unless both are set.
    directoryAnchor: z.string().min(1).optional(),
    directorySource: z.string().min(1).optional(),
    directoryRefreshS: int(1, 86_400).default(300),
    directoryGraceS: int(0, 90 * 24 * 3600).default(7 * 24 * 3600),
    // Unset means json in production (one object per line for log shippers), pretty otherwise.
    logFormat: z.enum(['json', 'pretty']).optional(),
    // Unset means 2000 ms in production, 0 otherwise: time for load balancers to see "not ready".
    shutdownGraceMs: int(0, 120_000).optional(),
    // Admin console (docs/operations.md §Admin console): served at /console on the HTTP port;
    // sessions expire after consoleIdleTimeoutS without use and consoleAbsoluteTimeoutS after sign-in.
    consoleEnabled: bool.default(true),
    consoleIdleTimeoutS: int(1, 86_400).default(900),
    consoleAbsoluteTimeoutS: int(1, 7 * 86_400).default(8 * 3600),
    // Secure cookie flag: set when the console is reached over HTTPS through a TLS-terminating proxy.
    consoleCookieSecure: bool.default(false),
    // Failed sign-ins allowed per minute from one source address, and in all (per replica).
    consoleSignInFailuresPerIpPerMin: int(1, 10_000).default(10),
    consoleSignInFailuresPerMin: int(1, 100_000).default(100),
    // Folder of the built console (default: dist/console of the installation).
    consoleDir: z.string().min(1).optional(),
    ...licenceSourceShape,
  })
  .strict();

type Raw = z.infer<typeof schema>;

/** A local system allowed to call the local API. */
export interface ApiClient {
  name: string;
  token: string;
}

/** The validated, typed configuration of one gateway. Nothing else reads process.env. */
export interface GatewayConfig {
  code: string;
  env: Raw['env'];
  /** `healthPort`: the health listener (its own thread, GET /health/live and /health/ready only); null = none. */
  http: { host: string; port: number; healthPort: number | null; requestTimeoutMs: number };
  grpc: { host: string; port: number; reflection: boolean };
  database: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; poolSize: number; schema?: string; applicationName: string };
  keyEncryptionSecret: string;
  /** The key-encryption secret being rotated away from (values under it still open); null outside a rotation. */
  keyEncryptionSecretPrevious: string | null;
  /** Test only: `tongban secrets rotate` pauses after this many rows (null: never; refused in production). */
  testRotatePauseAfter: number | null;
  /** Format secrets at rest are sealed in; values in another format are re-sealed at start. */
  sealAlg: Raw['sealAlg'];
  apiClients: ApiClient[];
  adminToken: string;
  signingAlg: Raw['signingAlg'];
  /** TONGBAN_SM2_NATIVE: where SM2 is computed (libs/gm sm2-native.ts); `required` stops boot without the addon. */
  sm2Native: Raw['sm2Native'];
  /** TONGBAN_MEMORY_RELEASE_AFTER_START: hand back start-up's heap before ready (observability releaseStartupMemory). */
  memoryReleaseAfterStart: boolean;
  /** TONGBAN_VERIFY_COALESCE: single verifications to one issuer in one turn share one signed call (verification IssuerCalls). */
  verifyCoalesce: boolean;
  allowedAlgorithms: Raw['allowedAlgs'];
  envelopeDigest: Raw['envelopeDigest'];
  messageTtlSeconds: number;
  clockSkewSeconds: number;
  maxPayloadBytes: number;
  peerDeadlineMs: number;
  /** Open each active peer's connection when the peer becomes known (one attempt), not at its first call. */
  peerPreconnect: boolean;
  /** Refusals before signature verification: budget per TLS peer and audit aggregation window. */
  refusals: { ratePerSecond: number; burst: number; auditWindowMs: number };
  participantsFile: string;
  extraParticipants: { code: string; name: string; nameEn: string }[];
  licenceTypesFile: string;
  trustRefreshSeconds: number;
  /** statusListTtl: seconds a signed status list is relied on; it is re-signed at least this often. */
  statusListTtlSeconds: number;
  catalogueFile: string;
  calendarFile: string;
  /** Time between announcing a rotated key and signing with it. */
  keyOverlapMs: number;
  delivery: { deadLetterAgeMs: number; deadAfterFailures: number; backoffBaseMs: number; backoffCapMs: number; pollIntervalMs: number; idlePollMs: number; concurrency: number };
  /** Retention job: run interval (0: off), rows per delete batch, and age in days per table (0: keep forever). */
  retention: { intervalMs: number; batchSize: number; outboxDays: number; inboxDays: number; webhookDeliveriesDays: number; materialDays: number };
  /** Largest case material accepted (upload or PushMaterial), bytes. */
  materialMaxBytes: number;
  /** Webhook deliveries to local systems: retry schedule, give-up point and request timeout. */
  webhooks: { backoffBaseMs: number; backoffCapMs: number; maxAttempts: number; timeoutMs: number; allowCidrs: string[]; maxPerClient: number };
  /** Licence status notices: live subscriptions one peer may hold here, and their lifetime. */
  notices: { maxPerPeer: number; ttlMs: number };
  logLevel: Raw['logLevel'];
  /** Audit checkpoints: interval in seconds and in entries (0 = off), and the export file (null = none). */
  audit: { checkpointSeconds: number; checkpointEntries: number; checkpointFile: string | null; hash: Raw['auditHash'] };
  /**
   * The federation transport: mutual TLS with these files, plaintext (development flag), or not
   * configured (the gateway refuses to start; CLI commands that only touch the database still run).
   */
  transport: { kind: 'mtls'; certFile: string; keyFile: string; caFile: string; keyPassphrase?: string; reloadSeconds: number } | { kind: 'insecure' } | { kind: 'unset'; problem: string };
  /** Directory mode (libs/directory); null when off. */
  directory: { anchorJwk: Record<string, unknown>; source: string; refreshSeconds: number; graceSeconds: number } | null;
  /** `json`: one JSON object per log line; `pretty`: Nest's console format. */
  logFormat: 'json' | 'pretty';
  /** On SIGTERM/SIGINT: time between reporting "not ready" and closing the servers. */
  shutdownGraceMs: number;
  /** Admin console: sessions (timeouts in ms), cookie flag, sign-in failure limits, assets folder (null: not found). */
  console: {
    enabled: boolean;
    idleTimeoutMs: number;
    absoluteTimeoutMs: number;
    cookieSecure: boolean;
    signInFailuresPerIpPerMinute: number;
    signInFailuresPerMinute: number;
    dir: string | null;
  };
  /** Where the issuer side finds its licences: the imported registry or the province's library (docs/licence-library.md). */
  licenceSource: LicenceSourceSettings;
  /** Settings filled with development defaults (reported at boot). */
  generated: string[];
}

/** Raised when a setting is wrong; the message names the setting and the rule. */
export class ConfigError extends Error {}

const envName = (key: string) => 'TONGBAN_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();

/**
 * Reads settings from an optional JSON file (TONGBAN_CONFIG or `configPath`) overlaid by
 * TONGBAN_* environment variables, and validates them once.
 */
export function loadGatewayConfig(env: NodeJS.ProcessEnv | undefined, configPath?: string): GatewayConfig {
  env ??= process.env;
  const keys = Object.keys(schema.shape);
  const file = configPath ?? env.TONGBAN_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`config file ${file} cannot be read as JSON: ${(e as Error).message}`);
    }
    // `null`, a number, a string or an array parse as JSON but hold no settings.
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${file} must hold a JSON object of settings (it holds ${parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`})`);
    }
    raw = { ...(parsed as Record<string, unknown>) };
  }
  for (const key of keys) {
    const v = env[envName(key)];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('TONGBAN_') && name !== 'TONGBAN_CONFIG' && !keys.some((k) => envName(k) === name)) {
      throw new ConfigError(`${name}: unknown setting (known: ${keys.map(envName).join(', ')})`);
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'unrecognized_keys') throw new ConfigError(`config file: unknown setting(s) ${issue.keys.join(', ')}`);
    const key = String(issue.path[0] ?? '');
    throw new ConfigError(`${envName(key)} (${key}): ${issue.message}`);
  }
  return finish(parsed.data);
}

function finish(r: Raw): GatewayConfig {
  const production = r.env === 'production';
  const generated: string[] = [];
  const nn = r.code.slice(0, 2);
  const required = (key: keyof Raw, value: string | undefined, fallback: () => string): string => {
    if (value) return value;
    if (production) throw new ConfigError(`${envName(key)} (${key}): required in production`);
    generated.push(envName(key));
    return fallback();
  };
  const keyEncryptionSecret = required('keyEncryptionSecret', r.keyEncryptionSecret, () => `development-only-insecure-secret-${r.code}`);
  if (keyEncryptionSecret.length < (production ? 32 : 16)) {
    throw new ConfigError(`${envName('keyEncryptionSecret')} (keyEncryptionSecret): must be at least ${production ? 32 : 16} characters`);
  }
  if (r.keyEncryptionSecretPrevious !== undefined) {
    if (r.keyEncryptionSecretPrevious.length < (production ? 32 : 16)) {
      throw new ConfigError(`${envName('keyEncryptionSecretPrevious')} (keyEncryptionSecretPrevious): must be at least ${production ? 32 : 16} characters`);
    }
    if (r.keyEncryptionSecretPrevious === keyEncryptionSecret) {
      throw new ConfigError(`${envName('keyEncryptionSecretPrevious')} (keyEncryptionSecretPrevious): must differ from TONGBAN_KEY_ENCRYPTION_SECRET (it is the secret being rotated away from)`);
    }
  }
  if (production && r.testRotatePauseAfter !== undefined) throw new ConfigError(`${envName('testRotatePauseAfter')} (testRotatePauseAfter): a test-only setting, not allowed in production`);
  const apiTokens = required('apiTokens', r.apiTokens, () => `local:${randomBytes(18).toString('base64url')}`);
  const apiClients = apiTokens.split(',').map((pair, i) => {
    // Split at the first colon only: a token may itself contain colons.
    const at = pair.indexOf(':');
    const name = at > 0 ? pair.slice(0, at) : '';
    const token = at > 0 ? pair.slice(at + 1) : '';
    if (!name || !token || !/^[a-z0-9_-]{1,32}$/i.test(name) || token.length < 16) {
      throw new ConfigError(`${envName('apiTokens')} (apiTokens): entry ${i + 1} must be name:token with a token of at least 16 characters`);
    }
    return { name, token };
  });
  const adminToken = required('adminToken', r.adminToken, () => randomBytes(18).toString('base64url'));
  if (adminToken.length < 16) throw new ConfigError(`${envName('adminToken')} (adminToken): must be at least 16 characters`);
  if (r.healthPort !== undefined && [r.httpPort ?? Number(`80${nn}`), r.grpcPort ?? Number(`90${nn}`)].includes(r.healthPort)) {
    throw new ConfigError(`${envName('healthPort')} (healthPort): must differ from the HTTP and gRPC ports`);
  }
  if (r.databaseUrl && r.sqlitePath) throw new ConfigError(`${envName('databaseUrl')}: set either databaseUrl or sqlitePath, not both`);
  let extraParticipants: GatewayConfig['extraParticipants'] = [];
  if (r.extraParticipants) {
    try {
      extraParticipants = z.array(z.object({ code: z.string().regex(/^\d{2}0000$/), name: z.string().min(1), nameEn: z.string().min(1) })).parse(JSON.parse(r.extraParticipants));
    } catch {
      throw new ConfigError(`${envName('extraParticipants')} (extraParticipants): must be a JSON array of {code, name, nameEn}`);
    }
  }
  return {
    code: r.code,
    env: r.env,
    http: { host: r.httpHost, port: r.httpPort ?? Number(`80${nn}`), healthPort: r.healthPort ?? null, requestTimeoutMs: r.httpRequestTimeoutMs },
    grpc: { host: r.grpcHost, port: r.grpcPort ?? Number(`90${nn}`), reflection: r.grpcReflection ?? !production },
    database: r.databaseUrl
      ? { kind: 'postgres', url: r.databaseUrl, poolSize: r.databasePoolSize, schema: r.databaseSchema, applicationName: r.databaseApplicationName ?? `tongban-${r.code}` }
      : { kind: 'sqlite', path: resolve(r.sqlitePath ?? `var/tongban-${r.code}.sqlite`) },
    keyEncryptionSecret,
    keyEncryptionSecretPrevious: r.keyEncryptionSecretPrevious ?? null,
    testRotatePauseAfter: r.testRotatePauseAfter ?? null,
    sealAlg: r.sealAlg,
    apiClients,
    adminToken,
    signingAlg: r.signingAlg,
    sm2Native: r.sm2Native,
    memoryReleaseAfterStart: r.memoryReleaseAfterStart,
    verifyCoalesce: r.verifyCoalesce,
    allowedAlgorithms: r.allowedAlgs,
    envelopeDigest: r.envelopeDigest,
    messageTtlSeconds: r.messageTtlS,
    clockSkewSeconds: r.clockSkewS,
    maxPayloadBytes: r.maxPayloadBytes,
    peerDeadlineMs: r.peerDeadlineMs,
    peerPreconnect: r.peerPreconnect,
    refusals: { ratePerSecond: r.refusalRatePerS, burst: r.refusalBurst, auditWindowMs: r.refusalAuditWindowS * 1000 },
    participantsFile: r.participantsFile ? resolve(r.participantsFile) : findUp('data/participants.json'),
    extraParticipants,
    licenceTypesFile: r.licenceTypesFile ? resolve(r.licenceTypesFile) : findUp('data/licence-types.json'),
    trustRefreshSeconds: r.trustRefreshS,
    statusListTtlSeconds: r.statusListTtlS,
    keyOverlapMs: r.keyOverlapHours * 3600_000,
    catalogueFile: r.catalogueFile ? resolve(r.catalogueFile) : findUp('data/catalogue.json'),
    calendarFile: r.calendarFile ? resolve(r.calendarFile) : findUp('data/calendar.json'),
    delivery: {
      deadLetterAgeMs: r.deadLetterAgeS * 1000,
      deadAfterFailures: r.deliveryDeadAfterFailures,
      backoffBaseMs: r.deliveryBackoffBaseMs,
      backoffCapMs: Math.max(r.deliveryBackoffCapMs, r.deliveryBackoffBaseMs),
      pollIntervalMs: r.deliveryPollMs,
      idlePollMs: Math.max(r.deliveryIdlePollMs, r.deliveryPollMs),
      concurrency: r.deliveryConcurrency,
    },
    retention: {
      intervalMs: r.retentionIntervalS * 1000,
      batchSize: r.retentionBatchSize,
      outboxDays: r.retentionOutboxDays,
      inboxDays: r.retentionInboxDays,
      webhookDeliveriesDays: r.retentionWebhookDeliveriesDays,
      materialDays: r.retentionMaterialDays,
    },
    materialMaxBytes: r.materialMaxBytes,
    webhooks: {
      backoffBaseMs: r.webhookBackoffBaseMs,
      backoffCapMs: Math.max(r.webhookBackoffCapMs, r.webhookBackoffBaseMs),
      maxAttempts: r.webhookMaxAttempts,
      timeoutMs: r.webhookTimeoutMs,
      allowCidrs: r.webhookAllowCidrs,
      maxPerClient: r.webhookMaxPerClient,
    },
    notices: {
      maxPerPeer: r.noticeMaxPerPeer,
      ttlMs: r.noticeTtlDays * 24 * 3600_000,
    },
    logLevel: r.logLevel,
    audit: { checkpointSeconds: r.auditCheckpointS, checkpointEntries: r.auditCheckpointEntries, checkpointFile: r.auditCheckpointFile ? resolve(r.auditCheckpointFile) : null, hash: r.auditHash },
    directory: directorySettings(r),
    transport: transportSettings(r, production),
    logFormat: r.logFormat ?? (production ? 'json' : 'pretty'),
    shutdownGraceMs: r.shutdownGraceMs ?? (production ? 2000 : 0),
    console: {
      enabled: r.consoleEnabled,
      idleTimeoutMs: r.consoleIdleTimeoutS * 1000,
      absoluteTimeoutMs: r.consoleAbsoluteTimeoutS * 1000,
      cookieSecure: r.consoleCookieSecure,
      signInFailuresPerIpPerMinute: r.consoleSignInFailuresPerIpPerMin,
      signInFailuresPerMinute: r.consoleSignInFailuresPerMin,
      dir: r.consoleDir ? resolve(r.consoleDir) : builtConsoleDir(),
    },
    licenceSource: licenceSourceSettings(r, (key, message) => {
      throw new ConfigError(`${envName(key)} (${key}): ${message}`);
    }),
    generated,
  };
}

/** dist/console of this installation (built by `npm run build`), or null when it was not built. */
function builtConsoleDir(): string | null {
  try {
    return findUp('dist/console');
  } catch {
    return null;
  }
}

/** Mutual TLS files, or the development flag; never both, never the flag in production. */
function transportSettings(r: Raw, production: boolean): GatewayConfig['transport'] {
  const files = { tlsCert: r.tlsCert, tlsKey: r.tlsKey, tlsCa: r.tlsCa };
  const given = Object.entries(files).filter(([, v]) => v);
  if (r.grpcInsecure) {
    if (production) throw new ConfigError(`${envName('grpcInsecure')} (grpcInsecure): not allowed in production: gateways must use mutual TLS (TONGBAN_TLS_CERT, TONGBAN_TLS_KEY, TONGBAN_TLS_CA)`);
    if (given.length) throw new ConfigError(`${envName('grpcInsecure')} (grpcInsecure): set either the TLS files or grpcInsecure=true, not both`);
    return { kind: 'insecure' };
  }
  const missing = Object.keys(files).filter((k) => !files[k as keyof typeof files]);
  if (missing.length === 3) {
    return {
      kind: 'unset',
      problem: `${envName('tlsCert')}, ${envName('tlsKey')} and ${envName('tlsCa')} are not set: gateways talk over mutual TLS (docs/operations.md §18; \`tongban tls ca|issue\` makes a CA and certificates). For development only, ${envName('grpcInsecure')}=true runs without TLS`,
    };
  }
  if (missing.length)
    throw new ConfigError(`${envName(missing[0])} (${missing[0]}): required with ${given.map(([k]) => envName(k)).join(' and ')} (mutual TLS needs the certificate, its key and the CA bundle)`);
  return { kind: 'mtls', certFile: resolve(r.tlsCert!), keyFile: resolve(r.tlsKey!), caFile: resolve(r.tlsCa!), keyPassphrase: r.tlsKeyPassphrase || undefined, reloadSeconds: r.tlsReloadS };
}

/** Directory mode: both settings or neither; the anchor must be an Ed25519 or SM2 PUBLIC JWK (the point is checked when the directory lib loads it). */
function directorySettings(r: Raw): GatewayConfig['directory'] {
  if (!r.directoryAnchor && !r.directorySource) return null;
  if (!r.directorySource)
    throw new ConfigError(`${envName('directorySource')} (directorySource): required when ${envName('directoryAnchor')} is set (a file path or http(s) URL of the signed directory)`);
  if (!r.directoryAnchor) throw new ConfigError(`${envName('directoryAnchor')} (directoryAnchor): required when ${envName('directorySource')} is set (the trust anchor's public JWK)`);
  const where = `${envName('directoryAnchor')} (directoryAnchor)`;
  const inline = r.directoryAnchor.trim().startsWith('{');
  let jwk: unknown;
  try {
    jwk = JSON.parse(inline ? r.directoryAnchor : readFileSync(resolve(r.directoryAnchor), 'utf8'));
  } catch (e) {
    throw new ConfigError(`${where}: must be a JSON public JWK or the path of a file holding one: ${(e as Error).message}`);
  }
  // One public JWK, or during an anchor rollover a JWK Set {"keys": [old, new]} (at most 3).
  const b64url32 = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
  const one = z.union([
    z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), x: b64url32 }).passthrough(),
    z.object({ kty: z.literal('EC'), crv: z.literal('SM2'), x: b64url32, y: b64url32 }).passthrough(),
  ]);
  const isSet = typeof jwk === 'object' && jwk !== null && 'keys' in jwk;
  const anchor = (isSet ? z.object({ keys: z.array(one).min(1).max(3) }).strict() : one).safeParse(jwk);
  if (!anchor.success) {
    throw new ConfigError(
      `${where}: must be an Ed25519 public JWK ({"kty":"OKP","crv":"Ed25519","x":…}) or an SM2 one ({"kty":"EC","crv":"SM2","x":…,"y":…}) or, during an anchor rollover, a JWK Set {"keys":[…]} of 1 to 3 of them`,
    );
  }
  const keys = isSet ? (anchor.data as { keys: Record<string, unknown>[] }).keys : [anchor.data as Record<string, unknown>];
  if (keys.some((k) => 'd' in k)) throw new ConfigError(`${where}: holds a private key (d); a gateway takes the anchor's PUBLIC key only — keep the private key offline`);
  const source = /^https?:\/\//i.test(r.directorySource) ? r.directorySource : resolve(r.directorySource);
  return { anchorJwk: anchor.data, source, refreshSeconds: r.directoryRefreshS, graceSeconds: r.directoryGraceS };
}

/**
 * The value of an environment variable an administrator named on the command line (e.g.
 * `--passphrase-env CA_KEY_PASSPHRASE`), so that secrets never appear in the process list.
 */
export function readNamedSecret(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!/^[A-Z_][A-Z0-9_]{0,63}$/.test(name)) throw new ConfigError(`${name.slice(0, 70)}: not an environment variable name (A-Z, 0-9, _)`);
  return env[name] || undefined;
}
