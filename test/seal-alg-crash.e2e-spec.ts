import { fork } from 'node:child_process';
import { Client } from 'pg';
import { GatewayOptions, TEST_PG_URL, call, dropPostgresSchema, gatewayOptions, postgresAvailable, runCli, startGateway } from '@tongban/testkit';

interface LauncherEnv {
  CLI_MAIN: string;
  gatewayEnv(o: GatewayOptions): Record<string, string>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the CommonJS launcher, typed above
const launcher = require('../scripts/lib/federation.js') as LauncherEnv;

const SM4 = 'SM4-CTR-HMAC-SM3';
const pg = postgresAvailable() ? describe : describe.skip;

// A re-seal killed (SIGKILL) in the middle of its transaction on PostgreSQL: the signing key was
// already re-sealed inside it and the process is stopped while waiting for a webhook row another
// session holds. Nothing of it remains: every value is still AES-256-GCM and opens; the next run
// re-seals everything.
pg('TONGBAN_SEAL_ALG: a re-seal killed mid-transaction leaves everything as it was', () => {
  const schema = `e2e_reseal_${Date.now().toString(36)}`;
  let o: GatewayOptions;

  afterAll(async () => {
    await dropPostgresSchema(schema);
  });

  it('kill -9 while the transaction waits on a row lock: all values still AES, then a full re-seal', async () => {
    o = await gatewayOptions('460000', { databaseUrl: TEST_PG_URL, env: { TONGBAN_DATABASE_SCHEMA: schema, TONGBAN_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' } });
    const gw = await startGateway(o);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await call<{ id: string }>(gw, 'POST', '/v1/webhooks', { url: `http://127.0.0.1:9/h${i}` })).body.id);
    await gw.stop();
    const aes = 'signing keys: AES-256-GCM 1\nwebhook secrets: AES-256-GCM 3\nTONGBAN_SEAL_ALG: AES-256-GCM\n';
    expect((await runCli(o, ['secrets', 'status'])).stdout).toContain(aes);

    const locker = new Client({ connectionString: TEST_PG_URL });
    // pg_stat_activity is read from another session: inside the locker's transaction it would be a snapshot.
    const watcher = new Client({ connectionString: TEST_PG_URL });
    await locker.connect();
    await watcher.connect();
    try {
      await locker.query('BEGIN');
      await locker.query(`SELECT id FROM "${schema}".webhooks FOR UPDATE`);
      const sm4 = { ...o, env: { ...o.env!, TONGBAN_SEAL_ALG: SM4 } };
      const child = fork(launcher.CLI_MAIN, ['secrets', 'reseal'], { env: launcher.gatewayEnv(sm4), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      // Wait until the re-seal's session is blocked on the row lock (it has updated the signing key by then).
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { rows } = await watcher.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE 'UPDATE%webhooks%' AND pid <> pg_backend_pid()`);
        if (Number(rows[0].n) > 0) break;
        if (Date.now() > deadline) throw new Error(`the re-seal never reached the locked webhook rows: ${stderr}`);
        await new Promise((r) => setImmediate(r));
      }
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await locker.query('ROLLBACK');
    } finally {
      await locker.end();
      await watcher.end();
    }

    expect((await runCli(o, ['secrets', 'status'])).stdout).toContain(aes);
    const again = await startGateway(o);
    expect(again.output()).not.toContain('re-sealed');
    await again.stop();
    const sm4 = { ...o, env: { ...o.env!, TONGBAN_SEAL_ALG: SM4 } };
    expect(await runCli(sm4, ['secrets', 'reseal'])).toMatchObject({ code: 0, stdout: `signing keys re-sealed as ${SM4}: 1\nwebhook secrets re-sealed as ${SM4}: 3\n` });
    expect((await runCli(sm4, ['secrets', 'status'])).stdout).toContain(`signing keys: ${SM4} 1\nwebhook secrets: ${SM4} 3\nTONGBAN_SEAL_ALG: ${SM4}\n`);
    const last = await startGateway(sm4);
    expect(last.output()).not.toContain('re-sealed');
    await last.stop();
  }, 180_000);
});
