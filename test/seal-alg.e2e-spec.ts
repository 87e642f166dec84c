import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SecretSealer } from '@tongban/keys';
import { GatewayOptions, call, gatewayOptions, runCli, startGateway } from '@tongban/testkit';

const SM4 = 'SM4-CTR-HMAC-SM3';

// A running gateway moved from AES-256-GCM to SM4 at rest and back (TONGBAN_SEAL_ALG): each restart
// re-seals its signing key and webhook secret, keeps the same key and the same secret, and says so.
describe('TONGBAN_SEAL_ALG: switching a gateway between AES-256-GCM and SM4-CTR + HMAC-SM3 at rest', () => {
  let o: GatewayOptions;
  const env = (sealAlg?: string): Record<string, string> => ({ TONGBAN_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8', ...(sealAlg ? { TONGBAN_SEAL_ALG: sealAlg } : {}) });

  /** The stored values' format fields, read from the gateway's SQLite file while it is stopped. */
  function stored(): { keys: string[]; hooks: { id: string; sealed: string }[] } {
    const db = new Database(join(o.dir, `tongban-${o.code}.sqlite`), { readonly: true });
    try {
      const keys = (db.prepare('SELECT private_key_enc AS v FROM signing_keys').all() as { v: string }[]).map((r) => r.v);
      const hooks = db.prepare('SELECT id, secret_sealed AS sealed FROM webhooks').all() as { id: string; sealed: string }[];
      return { keys, hooks };
    } finally {
      db.close();
    }
  }

  async function restartWith(sealAlg: string | undefined): Promise<{ kid: string; output: string }> {
    const gw = await startGateway({ ...o, env: env(sealAlg) });
    const kid = ((await (await fetch(`${gw.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0].kid;
    await gw.stop();
    return { kid, output: gw.output() };
  }

  it('re-seals the key and the webhook secret at each change, losing neither', async () => {
    o = await gatewayOptions('460000', { env: env() });
    const first = await startGateway(o);
    const kid = ((await (await fetch(`${first.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys[0].kid;
    const secret = 'a-webhook-secret-registered-under-aes';
    const hook = await call<{ id: string }>(first, 'POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook', secret });
    expect(hook.status).toBe(201);
    await first.stop();
    expect(stored().keys.map((v) => v.split('.')[0])).toEqual(['v1']);
    expect(stored().hooks.map((h) => h.sealed.split('.')[0])).toEqual(['v1']);

    const toSm4 = await restartWith(SM4);
    expect(toSm4.kid).toBe(kid);
    expect(toSm4.output).toContain(`re-sealed 1 signing key(s) and 1 webhook secret(s) as ${SM4} (TONGBAN_SEAL_ALG)`);
    expect(stored().keys.map((v) => v.split('.')[0])).toEqual(['sm4v1']);
    const [row] = stored().hooks;
    expect(row.sealed.split('.')[0]).toBe('sm4v1');
    await expect(new SecretSealer({ keyEncryptionSecret: o.secrets.keyEncryptionSecret }).open('webhook', hook.body.id, row.sealed)).resolves.toBe(secret);

    const again = await restartWith(SM4);
    expect(again.kid).toBe(kid);
    expect(again.output).not.toContain('re-sealed');

    const back = await restartWith(undefined);
    expect(back.kid).toBe(kid);
    expect(back.output).toContain('re-sealed 1 signing key(s) and 1 webhook secret(s) as AES-256-GCM (TONGBAN_SEAL_ALG)');
    expect(stored().keys.map((v) => v.split('.')[0])).toEqual(['v1']);
    expect(stored().hooks.map((h) => h.sealed.split('.')[0])).toEqual(['v1']);
  }, 180_000);

  it('tongban secrets status shows the formats; tongban secrets reseal does the same re-seal offline', async () => {
    o = await gatewayOptions('460000', { env: env() });
    const gw = await startGateway(o);
    expect((await call(gw, 'POST', '/v1/webhooks', { url: 'http://127.0.0.1:9/hook' })).status).toBe(201);
    await gw.stop();
    expect(await runCli(o, ['secrets', 'status'])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('signing keys: AES-256-GCM 1\nwebhook secrets: AES-256-GCM 1\nTONGBAN_SEAL_ALG: AES-256-GCM\n') as string,
    });
    const sm4 = { ...o, env: env(SM4) };
    expect(await runCli(sm4, ['secrets', 'reseal'])).toMatchObject({ code: 0, stdout: `signing keys re-sealed as ${SM4}: 1\nwebhook secrets re-sealed as ${SM4}: 1\n` });
    expect(await runCli(sm4, ['secrets', 'status'])).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`signing keys: ${SM4} 1\nwebhook secrets: ${SM4} 1\nTONGBAN_SEAL_ALG: ${SM4}\n`) as string,
    });
    // The gateway then finds nothing to re-seal, and opens everything.
    const after = await restartWith(SM4);
    expect(after.output).not.toContain('re-sealed');
    // A wrong secret: nothing changes, exit 1 naming the key.
    const wrong = await runCli({ ...o, secrets: { ...o.secrets, keyEncryptionSecret: 'another-secret-of-enough-length' } }, ['secrets', 'reseal']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/signing key \S+ cannot be opened to re-seal it as AES-256-GCM: sealed under key-encryption secret kek-[0-9a-f]{12}, which this process does not have/);
    expect(stored().keys.map((v) => v.split('.')[0])).toEqual(['sm4v1']);
  }, 180_000);

  it('refuses an unknown TONGBAN_SEAL_ALG by name', async () => {
    await expect(startGateway(await gatewayOptions('460000', { env: { TONGBAN_SEAL_ALG: 'SM4-GCM' } }))).rejects.toThrow(/TONGBAN_SEAL_ALG \(sealAlg\): must be one of AES-256-GCM, SM4-CTR-HMAC-SM3/);
  });
});
