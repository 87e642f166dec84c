import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, GatewayConfig, loadGatewayConfig } from './gateway-config';

const SECRET = 'a-production-secret-of-40-characters-xyz';
const PROD = {
  TONGBAN_CODE: '110000',
  TONGBAN_ENV: 'production',
  TONGBAN_KEY_ENCRYPTION_SECRET: SECRET,
  TONGBAN_API_TOKENS: 'portal:portal-token-0123456789',
  TONGBAN_ADMIN_TOKEN: 'admin-token-0123456789',
};

/** loadGatewayConfig(env) must throw a ConfigError; returns its message. */
function configError(env: NodeJS.ProcessEnv, configPath?: string): string {
  try {
    loadGatewayConfig(env, configPath);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadGatewayConfig', () => {
  describe('development defaults', () => {
    let config: GatewayConfig;
    beforeAll(() => {
      config = loadGatewayConfig({ TONGBAN_CODE: '110000', PATH: '/usr/bin', HOME: '/root' });
    });

    it('derives ports 8011/9011 from the code of 110000, on localhost', () => {
      expect(config.http).toEqual({ host: '127.0.0.1', port: 8011, healthPort: null, requestTimeoutMs: 300_000 });
      expect(config.grpc).toEqual({ host: '127.0.0.1', port: 9011, reflection: true });
    });

    it('fills and reports development-only secrets and tokens', () => {
      expect(config.env).toBe('development');
      expect(config.generated).toEqual(['TONGBAN_KEY_ENCRYPTION_SECRET', 'TONGBAN_API_TOKENS', 'TONGBAN_ADMIN_TOKEN']);
      expect(config.keyEncryptionSecret).toBe('development-only-insecure-secret-110000');
      expect(config.apiClients).toEqual([{ name: 'local', token: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) }]);
      expect(config.adminToken).toMatch(/^[A-Za-z0-9_-]{24}$/);
    });

    it('generates different tokens on every load', () => {
      const again = loadGatewayConfig({ TONGBAN_CODE: '110000' });
      expect(again.adminToken).not.toBe(config.adminToken);
      expect(again.apiClients[0].token).not.toBe(config.apiClients[0].token);
    });

    it('uses the documented protocol defaults and a per-code SQLite file', () => {
      expect(config).toMatchObject({
        code: '110000',
        signingAlg: 'EdDSA',
        allowedAlgorithms: ['EdDSA', 'ES256', 'SM2SM3'],
        messageTtlSeconds: 120,
        clockSkewSeconds: 60,
        maxPayloadBytes: 1024 * 1024,
        peerDeadlineMs: 3000,
        refusals: { ratePerSecond: 5, burst: 50, auditWindowMs: 60_000 },
        trustRefreshSeconds: 10,
        statusListTtlSeconds: 300,
        logLevel: 'log',
        extraParticipants: [],
      });
      expect(config.database).toEqual({ kind: 'sqlite', path: path.resolve('var/tongban-110000.sqlite') });
      expect(config.participantsFile).toMatch(/data[\\/]participants\.json$/);
      expect(config.licenceTypesFile).toMatch(/data[\\/]licence-types\.json$/);
    });

    it('takes the refusal budget and audit window; refuses a budget that cannot refill', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_REFUSAL_RATE_PER_S: '0.5', TONGBAN_REFUSAL_BURST: '10', TONGBAN_REFUSAL_AUDIT_WINDOW_S: '0' }).refusals).toEqual({
        ratePerSecond: 0.5,
        burst: 10,
        auditWindowMs: 0,
      });
      expect(() => loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_REFUSAL_RATE_PER_S: '0' })).toThrow(/TONGBAN_REFUSAL_RATE_PER_S \(refusalRatePerS\)/);
      expect(() => loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_REFUSAL_BURST: '0' })).toThrow(/TONGBAN_REFUSAL_BURST \(refusalBurst\)/);
    });

    it('takes a health port of its own, none by default, never the HTTP or gRPC port', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).http.healthPort).toBeNull();
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_HEALTH_PORT: '8081' }).http).toMatchObject({ host: '127.0.0.1', port: 8011, healthPort: 8081 });
      expect(() => loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_HEALTH_PORT: '8011' })).toThrow(/TONGBAN_HEALTH_PORT \(healthPort\): must differ from the HTTP and gRPC ports/);
      expect(() => loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_GRPC_PORT: '7000', TONGBAN_HEALTH_PORT: '7000' })).toThrow(/must differ/);
    });

    it('derives ports from any province code', () => {
      const gd = loadGatewayConfig({ TONGBAN_CODE: '440000' });
      expect([gd.http.port, gd.grpc.port]).toEqual([8044, 9044]);
      expect(gd.keyEncryptionSecret).toBe('development-only-insecure-secret-440000');
    });
  });

  describe('federation transport (mutual TLS)', () => {
    const TLS = { TONGBAN_TLS_CERT: '/etc/tongban/tls/gw.pem', TONGBAN_TLS_KEY: '/etc/tongban/tls/gw.key', TONGBAN_TLS_CA: '/etc/tongban/tls/ca.pem', TONGBAN_TLS_KEY_PASSPHRASE: 'p'.repeat(20) };

    it('takes the three files and the passphrase, with a 60 s reload check by default', () => {
      expect(loadGatewayConfig({ ...PROD, ...TLS }).transport).toEqual({
        kind: 'mtls',
        certFile: TLS.TONGBAN_TLS_CERT,
        keyFile: TLS.TONGBAN_TLS_KEY,
        caFile: TLS.TONGBAN_TLS_CA,
        keyPassphrase: TLS.TONGBAN_TLS_KEY_PASSPHRASE,
        reloadSeconds: 60,
      });
    });

    it('reports an unset transport (the gateway refuses to start; database-only CLI commands still run)', () => {
      const t = loadGatewayConfig(PROD).transport;
      expect(t.kind).toBe('unset');
      expect(t.kind === 'unset' && t.problem).toMatch(/TONGBAN_TLS_CERT, TONGBAN_TLS_KEY and TONGBAN_TLS_CA are not set.*TONGBAN_GRPC_INSECURE=true/);
    });

    it.each(['TONGBAN_TLS_CERT', 'TONGBAN_TLS_KEY', 'TONGBAN_TLS_CA'])('names %s when only it is missing', (name) => {
      const env: NodeJS.ProcessEnv = { ...PROD, ...TLS };
      delete env[name];
      expect(configError(env)).toMatch(new RegExp(`^${name} .*required with`));
    });

    it('allows plaintext only behind the development flag, never in production, never mixed with TLS files', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_GRPC_INSECURE: 'true' }).transport).toEqual({ kind: 'insecure' });
      expect(configError({ ...PROD, TONGBAN_GRPC_INSECURE: 'true' })).toMatch(/TONGBAN_GRPC_INSECURE.*not allowed in production/);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_GRPC_INSECURE: 'true', ...TLS })).toMatch(/either the TLS files or grpcInsecure=true, not both/);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_GRPC_INSECURE: 'yes' })).toMatch(/TONGBAN_GRPC_INSECURE/);
    });
  });

  describe('production', () => {
    it('loads a complete production config without generating anything and without reflection', () => {
      const config = loadGatewayConfig(PROD);
      expect(config.generated).toEqual([]);
      expect(config.grpc.reflection).toBe(false);
      expect(config.keyEncryptionSecret).toBe(SECRET);
      expect(config.apiClients).toEqual([{ name: 'portal', token: 'portal-token-0123456789' }]);
      expect(config.adminToken).toBe('admin-token-0123456789');
    });

    it.each(['TONGBAN_KEY_ENCRYPTION_SECRET', 'TONGBAN_API_TOKENS', 'TONGBAN_ADMIN_TOKEN'])('refuses to start without %s, naming it', (name) => {
      const env: NodeJS.ProcessEnv = { ...PROD };
      delete env[name];
      const message = configError(env);
      expect(message).toContain(name);
      expect(message).toMatch(/required in production/);
    });

    it('treats an empty variable as unset', () => {
      expect(configError({ ...PROD, TONGBAN_KEY_ENCRYPTION_SECRET: '' })).toContain('TONGBAN_KEY_ENCRYPTION_SECRET');
    });

    it('requires a 32-character key-encryption secret in production and 16 in development', () => {
      expect(configError({ ...PROD, TONGBAN_KEY_ENCRYPTION_SECRET: 'x'.repeat(31) })).toMatch(/TONGBAN_KEY_ENCRYPTION_SECRET.*at least 32/);
      expect(loadGatewayConfig({ ...PROD, TONGBAN_KEY_ENCRYPTION_SECRET: 'x'.repeat(32) }).keyEncryptionSecret).toHaveLength(32);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_KEY_ENCRYPTION_SECRET: 'x'.repeat(15) })).toMatch(/at least 16/);
    });

    it('takes a previous key-encryption secret for a rotation: as long as the secret, and not the same one', () => {
      const previous = 'the-secret-being-rotated-away-from-40chars';
      expect(loadGatewayConfig({ ...PROD, TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS: previous }).keyEncryptionSecretPrevious).toBe(previous);
      expect(loadGatewayConfig(PROD).keyEncryptionSecretPrevious).toBeNull();
      expect(configError({ ...PROD, TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS: 'x'.repeat(31) })).toMatch(/^TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS \(keyEncryptionSecretPrevious\): must be at least 32/);
      expect(configError({ ...PROD, TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS: SECRET })).toMatch(/^TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS \(keyEncryptionSecretPrevious\): must differ/);
    });

    it('refuses the test-only rotation pause in production', () => {
      expect(configError({ ...PROD, TONGBAN_TEST_ROTATE_PAUSE_AFTER: '3' })).toBe('TONGBAN_TEST_ROTATE_PAUSE_AFTER (testRotatePauseAfter): a test-only setting, not allowed in production');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_TEST_ROTATE_PAUSE_AFTER: '3' }).testRotatePauseAfter).toBe(3);
    });

    it('requires a 16-character admin token', () => {
      expect(configError({ ...PROD, TONGBAN_ADMIN_TOKEN: 'short' })).toContain('TONGBAN_ADMIN_TOKEN');
    });
  });

  describe('unknown and invalid settings', () => {
    it('refuses an unknown TONGBAN_ variable, naming it', () => {
      const message = configError({ TONGBAN_CODE: '110000', TONGBAN_FOO: '1' });
      expect(message).toMatch(/^TONGBAN_FOO: unknown setting/);
      expect(message).toContain('TONGBAN_MESSAGE_TTL_S'); // lists the known ones
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MESSAGE_TTL: '60' })).toMatch(/^TONGBAN_MESSAGE_TTL: /);
    });

    it.each([['null'], ['42'], ['"text"'], ['[]'], ['true']])('refuses a config file holding %s (a ConfigError, so exit 78), not a TypeError', (content) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'tongban-config-'));
      const file = path.join(dir, 'gateway.json');
      writeFileSync(file, content);
      try {
        expect(configError({ TONGBAN_CODE: '110000' }, file)).toMatch(/must hold a JSON object of settings/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('ignores variables without the TONGBAN_ prefix', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', FOO: 'x', tongban_foo: 'y' }).code).toBe('110000');
    });

    it.each([['none'], ['HS256'], ['EdDSA,HS256'], ['RS256'], [',']])('refuses TONGBAN_ALLOWED_ALGS=%s', (algs) => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_ALLOWED_ALGS: algs })).toMatch(/^TONGBAN_ALLOWED_ALGS \(allowedAlgs\): /);
    });

    it('accepts a restricted, spaced algorithm list', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_ALLOWED_ALGS: 'ES256' }).allowedAlgorithms).toEqual(['ES256']);
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_ALLOWED_ALGS: ' EdDSA , ES256 ' }).allowedAlgorithms).toEqual(['EdDSA', 'ES256']);
    });

    it('TONGBAN_SM2_NATIVE: auto by default, required or off, nothing else', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).sm2Native).toBe('auto');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_SM2_NATIVE: 'required' }).sm2Native).toBe('required');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_SM2_NATIVE: 'off' }).sm2Native).toBe('off');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_SM2_NATIVE: 'yes' })).toMatch(/^TONGBAN_SM2_NATIVE \(sm2Native\): must be one of auto, required, off/);
    });

    it('TONGBAN_VERIFY_COALESCE: on by default, a boolean', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).verifyCoalesce).toBe(true);
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_VERIFY_COALESCE: 'false' }).verifyCoalesce).toBe(false);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_VERIFY_COALESCE: 'sometimes' })).toMatch(/^TONGBAN_VERIFY_COALESCE \(verifyCoalesce\): /);
    });

    it('TONGBAN_PEER_PRECONNECT: on by default, a boolean', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).peerPreconnect).toBe(true);
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_PEER_PRECONNECT: 'false' }).peerPreconnect).toBe(false);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_PEER_PRECONNECT: 'later' })).toMatch(/^TONGBAN_PEER_PRECONNECT \(peerPreconnect\): /);
    });

    it('TONGBAN_MEMORY_RELEASE_AFTER_START: on by default, a boolean', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).memoryReleaseAfterStart).toBe(true);
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_MEMORY_RELEASE_AFTER_START: 'false' }).memoryReleaseAfterStart).toBe(false);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MEMORY_RELEASE_AFTER_START: 'sometimes' })).toMatch(/^TONGBAN_MEMORY_RELEASE_AFTER_START \(memoryReleaseAfterStart\): /);
    });

    it('refuses TONGBAN_SIGNING_ALG other than EdDSA, ES256 or SM2SM3', () => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_SIGNING_ALG: 'HS256' })).toMatch(/^TONGBAN_SIGNING_ALG/);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_SIGNING_ALG: 'SM2' })).toMatch(/^TONGBAN_SIGNING_ALG/);
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_SIGNING_ALG: 'ES256' }).signingAlg).toBe('ES256');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_SIGNING_ALG: 'SM2SM3' }).signingAlg).toBe('SM2SM3');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_ALLOWED_ALGS: 'SM2SM3' }).allowedAlgorithms).toEqual(['SM2SM3']);
    });

    it('seals at rest with AES-256-GCM by default; TONGBAN_SEAL_ALG chooses SM4-CTR-HMAC-SM3 and refuses anything else by name', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).sealAlg).toBe('AES-256-GCM');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_SEAL_ALG: 'SM4-CTR-HMAC-SM3' }).sealAlg).toBe('SM4-CTR-HMAC-SM3');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_SEAL_ALG: 'SM4-GCM' })).toBe('TONGBAN_SEAL_ALG (sealAlg): must be one of AES-256-GCM, SM4-CTR-HMAC-SM3');
    });

    it('chains audit entries with SHA-256 by default; TONGBAN_AUDIT_HASH=SM3 chooses SM3 and refuses anything else by name', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000' }).audit.hash).toBe('SHA-256');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_AUDIT_HASH: 'SM3' }).audit.hash).toBe('SM3');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_AUDIT_HASH: 'MD5' })).toBe('TONGBAN_AUDIT_HASH (auditHash): must be SHA-256 or SM3');
    });

    it('bounds TONGBAN_MESSAGE_TTL_S to 10..300 whole seconds', () => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MESSAGE_TTL_S: '301' })).toMatch(/^TONGBAN_MESSAGE_TTL_S \(messageTtlS\): /);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MESSAGE_TTL_S: '9' })).toContain('TONGBAN_MESSAGE_TTL_S');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MESSAGE_TTL_S: '12.5' })).toContain('TONGBAN_MESSAGE_TTL_S');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MESSAGE_TTL_S: 'abc' })).toContain('TONGBAN_MESSAGE_TTL_S');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_MESSAGE_TTL_S: '300' }).messageTtlSeconds).toBe(300);
    });

    it('bounds the other numbers', () => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_CLOCK_SKEW_S: '301' })).toContain('TONGBAN_CLOCK_SKEW_S');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_MAX_PAYLOAD_BYTES: '1023' })).toContain('TONGBAN_MAX_PAYLOAD_BYTES');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_HTTP_PORT: '65536' })).toContain('TONGBAN_HTTP_PORT');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_PEER_DEADLINE_MS: '99' })).toContain('TONGBAN_PEER_DEADLINE_MS');
      const c = loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_HTTP_PORT: '8500', TONGBAN_GRPC_PORT: '9500', TONGBAN_CLOCK_SKEW_S: '0' });
      expect([c.http.port, c.grpc.port, c.clockSkewSeconds]).toEqual([8500, 9500, 0]);
    });

    it('takes webhook allowed ranges and a per-client cap; refuses a bad range, naming it', () => {
      const d = loadGatewayConfig({ TONGBAN_CODE: '110000' }).webhooks;
      expect([d.allowCidrs, d.maxPerClient]).toEqual([[], 20]);
      const c = loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_WEBHOOK_ALLOW_CIDRS: ' 10.20.0.0/16 , fd12:3456::/48,127.0.0.1 ', TONGBAN_WEBHOOK_MAX_PER_CLIENT: '5' }).webhooks;
      expect([c.allowCidrs, c.maxPerClient]).toEqual([['10.20.0.0/16', 'fd12:3456::/48', '127.0.0.1'], 5]);
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_WEBHOOK_ALLOW_CIDRS: '10.0.0.0/8,10.0.0.0/33' })).toMatch(
        /^TONGBAN_WEBHOOK_ALLOW_CIDRS \(webhookAllowCidrs\): 10\.0\.0\.0\/33 is not an IPv4 or IPv6 address range/,
      );
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_WEBHOOK_ALLOW_CIDRS: 'intranet.example' })).toContain('intranet.example is not an IPv4 or IPv6 address range');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_WEBHOOK_MAX_PER_CLIENT: '0' })).toContain('TONGBAN_WEBHOOK_MAX_PER_CLIENT');
    });

    it.each([['11000'], ['1100000'], ['abcdef'], ['11000a'], [' 110000']])('refuses TONGBAN_CODE=%p', (code) => {
      expect(configError({ TONGBAN_CODE: code })).toMatch(/^TONGBAN_CODE \(code\): /);
    });

    it('refuses a missing code', () => {
      expect(configError({})).toMatch(/^TONGBAN_CODE \(code\): /);
    });

    it('refuses an unknown TONGBAN_ENV and a bad TONGBAN_GRPC_REFLECTION', () => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_ENV: 'staging' })).toContain('TONGBAN_ENV');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_GRPC_REFLECTION: 'yes' })).toContain('TONGBAN_GRPC_REFLECTION');
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_GRPC_REFLECTION: 'false' }).grpc.reflection).toBe(false);
      expect(loadGatewayConfig({ ...PROD, TONGBAN_GRPC_REFLECTION: '1' }).grpc.reflection).toBe(true);
    });
  });

  describe('database', () => {
    it('uses PostgreSQL when a postgres:// URL is given', () => {
      const c = loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_DATABASE_URL: 'postgres://u:p@db/tongban', TONGBAN_DATABASE_POOL_SIZE: '5' });
      expect(c.database).toEqual({ kind: 'postgres', url: 'postgres://u:p@db/tongban', poolSize: 5, applicationName: 'tongban-110000' });
    });

    it('names the backends TONGBAN_DATABASE_APPLICATION_NAME when set (replicas told apart), and refuses a bad one', () => {
      const env = { TONGBAN_CODE: '110000', TONGBAN_DATABASE_URL: 'postgres://db/x' };
      const named = loadGatewayConfig({ ...env, TONGBAN_DATABASE_APPLICATION_NAME: 'tongban-110000-pod-a' }).database;
      expect(named).toMatchObject({ kind: 'postgres', applicationName: 'tongban-110000-pod-a' });
      expect(configError({ ...env, TONGBAN_DATABASE_APPLICATION_NAME: 'two words' })).toContain('TONGBAN_DATABASE_APPLICATION_NAME');
      expect(configError({ ...env, TONGBAN_DATABASE_APPLICATION_NAME: 'x'.repeat(59) })).toContain('TONGBAN_DATABASE_APPLICATION_NAME');
    });

    it('refuses a non-postgres URL, and both a URL and a SQLite path', () => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_DATABASE_URL: 'mysql://db/x' })).toContain('TONGBAN_DATABASE_URL');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_DATABASE_URL: 'postgres://db/x', TONGBAN_SQLITE_PATH: 'x.sqlite' })).toContain('TONGBAN_DATABASE_URL');
    });
  });

  describe('API tokens', () => {
    const tokens = (v: string) => loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_API_TOKENS: v }).apiClients;

    it('parses name:token pairs separated by commas', () => {
      expect(tokens('portal:0123456789abcdef,case-system_2:fedcba9876543210XY')).toEqual([
        { name: 'portal', token: '0123456789abcdef' },
        { name: 'case-system_2', token: 'fedcba9876543210XY' },
      ]);
    });

    it('does not report configured tokens as generated', () => {
      expect(loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_API_TOKENS: 'portal:0123456789abcdef' }).generated).not.toContain('TONGBAN_API_TOKENS');
    });

    it.each([
      ['a token shorter than 16 characters', 'portal:0123456789abcdef,other:short', 2],
      ['a missing token', 'portal:', 1],
      ['no colon', 'portal0123456789abcdef', 1],
      ['an empty name', ':0123456789abcdef', 1],
      ['a name with a space', 'my portal:0123456789abcdef', 1],
      ['a name longer than 32 characters', `${'n'.repeat(33)}:0123456789abcdef`, 1],
      ['an empty entry', 'portal:0123456789abcdef,', 2],
    ])('refuses %s, naming the entry', (_name, value, entry) => {
      const message = configError({ TONGBAN_CODE: '110000', TONGBAN_API_TOKENS: value });
      expect(message).toContain('TONGBAN_API_TOKENS');
      expect(message).toContain(`entry ${entry} `);
      expect(message).not.toContain('0123456789abcdef'); // never echoes a secret
    });

    it('keeps an API token that contains colons whole', () => {
      const c = loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_API_TOKENS: 'svc:0123456789abcdef:tail' });
      expect(c.apiClients).toEqual([{ name: 'svc', token: '0123456789abcdef:tail' }]);
    });
  });

  describe('config file', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'tongban-config-spec-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads settings from a JSON file, overridden by the environment', () => {
      const file = path.join(dir, 'gw.json');
      writeFileSync(file, JSON.stringify({ code: '440000', messageTtlS: 200, logLevel: 'debug' }));
      const c = loadGatewayConfig({ TONGBAN_CONFIG: file, TONGBAN_MESSAGE_TTL_S: '90' });
      expect([c.code, c.messageTtlSeconds, c.logLevel, c.http.port]).toEqual(['440000', 90, 'debug', 8044]);
      expect(loadGatewayConfig({}, file).code).toBe('440000');
    });

    it('refuses an unreadable or non-JSON file, and unknown keys in it', () => {
      expect(configError({}, path.join(dir, 'missing.json'))).toMatch(/cannot be read as JSON/);
      const bad = path.join(dir, 'bad.json');
      writeFileSync(bad, '{ code: 110000 }');
      expect(configError({}, bad)).toMatch(/cannot be read as JSON/);
      const unknown = path.join(dir, 'unknown.json');
      writeFileSync(unknown, JSON.stringify({ code: '110000', colour: 'red' }));
      expect(configError({}, unknown)).toContain('colour');
    });

    it('refuses extraParticipants that are not a JSON array of {code, name, nameEn}', () => {
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_EXTRA_PARTICIPANTS: '[{"code":"710000"}]' })).toContain('TONGBAN_EXTRA_PARTICIPANTS');
      expect(configError({ TONGBAN_CODE: '110000', TONGBAN_EXTRA_PARTICIPANTS: 'not json' })).toContain('TONGBAN_EXTRA_PARTICIPANTS');
      const c = loadGatewayConfig({ TONGBAN_CODE: '110000', TONGBAN_EXTRA_PARTICIPANTS: '[{"code":"710000","name":"台湾","nameEn":"Taiwan"}]' });
      expect(c.extraParticipants).toEqual([{ code: '710000', name: '台湾', nameEn: 'Taiwan' }]);
    });
  });
});
