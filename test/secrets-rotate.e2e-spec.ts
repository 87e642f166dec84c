import Database from 'better-sqlite3';
import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { KeyEncryption, SecretSealer, kekIdOf } from '@tongban/keys';
import { Gateway, GatewayOptions, call, connectAll, demoLicence, gatewayOptions, importDemoLicences, newSecrets, runCli, startGateway, verificationBody } from '@tongban/testkit';
import type { AttestationCheck, VerificationResult } from '@tongban/verification';
import type { AuditBody } from './support/bodies';

interface LauncherEnv {
  CLI_MAIN: string;
  gatewayEnv(o: GatewayOptions): Record<string, string>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS launcher, typed above
const launcher = require('../scripts/lib/federation.js') as LauncherEnv;

const BJ = '110000';
const GD = '440000';
const HOOKS = 3;

// Rotating 北京's key-encryption secret from A to B (docs/operations.md §4.1b) on real gateway
// processes: restart with B + A as previous, `tongban secrets rotate` killed with SIGKILL after 3 of
// its 5 rows (the test-only pause) together with the gateway, a production start with B alone
// refused naming A's kek id, a restart with B + A that opens everything, the rotation resumed, and
// finally B alone: 北京 still signs and 广东 still verifies what it signs.
describe('tongban secrets rotate: a new key-encryption secret, killed part-way and resumed', () => {
  const A = newSecrets().keyEncryptionSecret;
  const B = newSecrets().keyEncryptionSecret;
  let bjBase: GatewayOptions;
  let bj: Gateway | undefined;
  let gd: Gateway;
  let rotating: ChildProcess | undefined;
  const hookSecrets = new Map<string, string>();

  const withSecrets = (current: string, previous?: string, env: Record<string, string> = {}): GatewayOptions => ({
    ...bjBase,
    secrets: { ...bjBase.secrets, keyEncryptionSecret: current },
    env: { ...bjBase.env!, ...(previous ? { TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS: previous } : {}), ...env },
  });

  /** Sealed rows of 北京's SQLite file: binding, value and kek id of each. */
  function stored(): { binding: string; sealed: string; kek: string | null; hook?: string }[] {
    const db = new Database(join(bjBase.dir, `tongban-${BJ}.sqlite`), { readonly: true });
    try {
      const keys = db.prepare('SELECT kid, private_key_enc AS sealed, kek_id AS kek FROM signing_keys').all() as { kid: string; sealed: string; kek: string | null }[];
      const hooks = db.prepare('SELECT id, secret_sealed AS sealed, kek_id AS kek FROM webhooks').all() as { id: string; sealed: string; kek: string | null }[];
      return [
        ...keys.map((k) => ({ binding: k.kid, sealed: k.sealed, kek: k.kek })),
        ...hooks.map((h) => ({ binding: SecretSealer.binding('webhook', h.id), sealed: h.sealed, kek: h.kek, hook: h.id })),
      ];
    } finally {
      db.close();
    }
  }

  /** Every stored value opens with the secret its kek id names; webhook secrets are what was registered. */
  async function expectAllOpen(encryption: KeyEncryption): Promise<void> {
    for (const row of stored()) {
      const plaintext = await encryption.open(row.binding, row.sealed, row.kek);
      if (row.hook) expect(plaintext.toString('utf8')).toBe(hookSecrets.get(row.hook));
    }
  }

  /** 广东 asks 北京: 北京 signs the answer and the attestation, 广东 verifies both. */
  async function expectPeerVerifies(): Promise<void> {
    const res = await call<VerificationResult>(gd, 'POST', '/v1/verifications', verificationBody(demoLicence(BJ, 'VALID')));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('VALID');
    const check = await call<AttestationCheck>(gd, 'POST', '/v1/attestations/verify', { attestation: res.body.attestation });
    expect(check.body).toMatchObject({ valid: true, claims: { iss: BJ } });
  }

  beforeAll(async () => {
    bjBase = await gatewayOptions(BJ, { env: { TONGBAN_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } });
    bjBase.secrets.keyEncryptionSecret = A;
    await importDemoLicences(bjBase);
    [bj, gd] = await Promise.all([startGateway(bjBase), startGateway(await gatewayOptions(GD))]);
    await connectAll([bj, gd]);
  }, 120_000);

  afterAll(async () => {
    rotating?.kill('SIGKILL');
    await Promise.all([bj?.stop(), gd?.stop()]);
  });

  it('moves every signing key and webhook secret from A to B across a SIGKILL, and B alone then works', async () => {
    const [kekA, kekB] = await Promise.all([kekIdOf(A), kekIdOf(B)]);
    for (let i = 0; i < HOOKS; i++) {
      const secret = `webhook-secret-${i}-of-enough-length`;
      const hook = await call<{ id: string }>(bj!, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:9/h${i}`, secret });
      expect(hook.status).toBe(201);
      hookSecrets.set(hook.body.id, secret);
    }
    // A second signing key (NEXT, announced; the active key keeps signing): 2 keys + 3 webhooks = 5 rows.
    expect((await call(bj!, 'POST', '/admin/keys/rotate', {}, bj!.adminToken)).status).toBe(200);
    await expectPeerVerifies();
    expect(stored().map((r) => r.kek)).toEqual(Array(2 + HOOKS).fill(kekA));

    // Step 1: B becomes the current secret, A stays readable as the previous one.
    await bj!.stop();
    bj = await startGateway(withSecrets(B, A));
    expect(bj.output()).toContain(`5 value(s) still sealed under the previous key-encryption secret ${kekA}: run tongban secrets rotate (now ${kekB})`);
    await expectPeerVerifies();

    // Step 2, interrupted: the rotation stops after 3 rows (test-only pause); it and the gateway are killed.
    rotating = fork(launcher.CLI_MAIN, ['secrets', 'rotate'], { env: launcher.gatewayEnv(withSecrets(B, A, { TONGBAN_TEST_ROTATE_PAUSE_AFTER: '3' })), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let cliOutput = '';
    const paused = new Promise<void>((resolve, reject) => {
      const seen = (d: Buffer) => {
        cliOutput += d.toString();
        if (cliOutput.includes('paused after 3 row(s)')) resolve();
      };
      rotating!.stdout!.on('data', seen);
      rotating!.stderr!.on('data', seen);
      rotating!.once('exit', (code) => reject(new Error(`the rotation exited (${code}) before its pause: ${cliOutput}`)));
    });
    await paused;
    const killed = new Promise((resolve) => rotating!.once('exit', (_code, signal) => resolve(signal)));
    rotating.kill('SIGKILL');
    expect(await killed).toBe('SIGKILL');
    rotating = undefined;
    await bj.kill();

    // 3 rows under B, 2 under A: each opens with the secret its kek id names.
    const keks = stored().map((r) => r.kek);
    expect(keks.filter((k) => k === kekB)).toHaveLength(3);
    expect(keks.filter((k) => k === kekA)).toHaveLength(2);
    await expectAllOpen(new KeyEncryption(B, 'AES-256-GCM', A));

    // B alone in production: refused, naming A's kek id (never a secret); nothing is changed.
    const before = stored();
    const refused = await startGateway(withSecrets(B, undefined, { TONGBAN_ENV: 'production' })).catch((e: Error) => e.message);
    expect(refused).toMatch(new RegExp(`webhook secret \\S+ cannot be decrypted: it is sealed under key-encryption secret ${kekA}, which this gateway was not given`));
    expect(refused).not.toContain(A);
    expect(refused).not.toContain(B);
    expect(stored()).toEqual(before);

    // Restart with B + A: every secret opens; 广东 still verifies; the rotation is resumed and finishes.
    bj = await startGateway(withSecrets(B, A));
    expect(bj.output()).toContain(`2 value(s) still sealed under the previous key-encryption secret ${kekA}`);
    await expectPeerVerifies();
    const resumed = await runCli(withSecrets(B, A), ['secrets', 'rotate']);
    expect(resumed).toMatchObject({
      code: 0,
      stdout: `rotating to key-encryption secret ${kekB} (previous: ${kekA})\nsigning keys re-sealed under ${kekB}: 0\nwebhook secrets re-sealed under ${kekB}: 2\nvalues not under the current secret: 0\n`,
    });
    const status = await runCli(withSecrets(B, A), ['secrets', 'status']);
    expect(status.stdout).toContain(`signing keys by key-encryption secret: ${kekB} (current) 2\nwebhook secrets by key-encryption secret: ${kekB} (current) ${HOOKS}\n`);
    expect(status.stdout).toContain(`TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS: ${kekA}, 0 value(s) under it\nvalues not under the current secret: 0\n`);
    const audit = (event: string) => call<AuditBody>(bj!, 'GET', `/admin/audit?event=${event}&limit=10`, undefined, bj!.adminToken).then((r) => r.body.events);
    expect(await audit('secrets.rotation.started')).toHaveLength(2);
    const [done] = await audit('secrets.rotated');
    expect(done).toMatchObject({ subject: kekB, outcome: 'OK' });
    expect(JSON.parse(String(done.details))).toEqual({ previous: kekA, rows: 2, kept: 0, signing_keys: 0, webhook_secrets: 2, [`from_${kekA}`]: 2 });
    expect(done.actor).toMatch(/^cli(:|$)/);

    // Step 3: A is removed. B alone opens everything, 北京 signs, 广东 verifies.
    await bj.stop();
    bj = await startGateway(withSecrets(B));
    expect(bj.output()).not.toMatch(/sealed under key-encryption secret|cannot be decrypted/);
    await expectPeerVerifies();
    await expectAllOpen(new KeyEncryption(B));
    expect(stored().map((r) => r.kek)).toEqual(Array(2 + HOOKS).fill(kekB));
  }, 300_000);
});
