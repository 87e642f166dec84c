import { randomBytes, verify } from 'node:crypto';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { SystemClock } from '@tongban/common';
import { KeyEncryption, KeyStore, SIGNING_KEYS_SEALED, SealAlg, SecretSealer, SigningKeyEntity, resealAtRest, sealedAlgOf } from '@tongban/keys';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { WebhookEntity } from './webhook.entity';
import { WEBHOOK_SECRETS_SEALED } from './webhook-secrets-sealed';

const SECRET = 'a-test-key-encryption-secret-0123456789';
const COLUMNS = [SIGNING_KEYS_SEALED, WEBHOOK_SECRETS_SEALED];
const KEYS = 4;
const HOOKS = 6;

// Switching TONGBAN_SEAL_ALG re-seals every signing key and webhook secret in one transaction:
// all of them, or (on any failure part-way) none; nothing is lost, and the switch back works too.
describeEachDatabase('re-sealing secrets at rest (AES-256-GCM ⇄ SM4-CTR + HMAC-SM3)', (fresh) => {
  let ds: DataSource;
  const clock = new SystemClock();
  const encryption: Record<SealAlg, KeyEncryption> = { 'AES-256-GCM': new KeyEncryption(SECRET, 'AES-256-GCM'), 'SM4-CTR-HMAC-SM3': new KeyEncryption(SECRET, 'SM4-CTR-HMAC-SM3') };
  const hookSecrets = new Map<string, string>();

  const snapshot = async () => ({
    keys: (await ds.getRepository(SigningKeyEntity).find({ order: { kid: 'ASC' } })).map((r) => [r.kid, r.privateKeyEnc]),
    hooks: (await ds.getRepository(WebhookEntity).find({ order: { id: 'ASC' } })).map((r) => [r.id, r.secretSealed]),
  });

  /** Every key signs (its private half survived) and every webhook secret opens to what was registered. */
  async function expectAllIn(alg: SealAlg): Promise<void> {
    const now = await snapshot();
    expect(now.keys).toHaveLength(KEYS);
    expect(now.hooks).toHaveLength(HOOKS);
    for (const [, sealed] of [...now.keys, ...now.hooks]) expect(sealedAlgOf(sealed!)).toBe(alg);
    const store = new KeyStore(ds, clock, { keyEncryptionSecret: SECRET, signingAlg: 'EdDSA', sealAlg: alg });
    await store.refresh();
    for (const [kid] of now.keys) {
      const data = randomBytes(32);
      const { key, alg: signAlg } = store.publicKey(kid)!;
      expect(verify(signAlg === 'EdDSA' ? null : 'sha256', data, { key, dsaEncoding: 'ieee-p1363' }, store.sign(kid, data))).toBe(true);
    }
    const sealer = new SecretSealer({ keyEncryptionSecret: SECRET, sealAlg: alg });
    for (const [id, sealed] of now.hooks) await expect(sealer.open('webhook', id!, sealed!)).resolves.toBe(hookSecrets.get(id!));
  }

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [SigningKeyEntity, WebhookEntity]));
    const aesStore = new KeyStore(ds, clock, { keyEncryptionSecret: SECRET, signingAlg: 'EdDSA', sealAlg: 'AES-256-GCM' });
    for (let i = 0; i < KEYS; i++) await runInTransaction(ds, (tx) => aesStore.insertKey(tx, i % 2 ? 'ES256' : 'EdDSA', i ? 'NEXT' : 'ACTIVE', clock.now()));
    const sealer = new SecretSealer({ keyEncryptionSecret: SECRET, sealAlg: 'AES-256-GCM' });
    for (let i = 0; i < HOOKS; i++) {
      const id = `hook-${i}`;
      const secret = randomBytes(24).toString('base64url');
      hookSecrets.set(id, secret);
      await ds
        .getRepository(WebhookEntity)
        .insert({ id, url: 'https://example.org/h', events: ['*'], secret: '', secretSealed: await sealer.seal('webhook', id, secret), createdBy: 't', createdAt: new Date() });
    }
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('re-seals every key and webhook secret under AES as SM4, keeps none behind, and all still work', async () => {
    await expectAllIn('AES-256-GCM');
    // A webhook registered before the key-encryption secret changed, and one never sealed: neither is touched.
    const stale = await new SecretSealer({ keyEncryptionSecret: 'the-previous-secret-000000' }).seal('webhook', 'stale', 'x');
    const extra = { url: 'https://example.org/x', events: ['*'], createdBy: 't', createdAt: new Date() };
    await ds.getRepository(WebhookEntity).insert([
      { ...extra, id: 'stale', secret: '', secretSealed: stale },
      { ...extra, id: 'unsealed', secret: 'legacy-plaintext-secret', secretSealed: null },
    ]);

    const report = await resealAtRest(ds, encryption['SM4-CTR-HMAC-SM3'], COLUMNS);
    expect(report).toEqual({ to: 'SM4-CTR-HMAC-SM3', resealed: { 'signing key': KEYS, 'webhook secret': HOOKS }, kept: { 'signing key': [], 'webhook secret': ['stale'] } });
    expect((await ds.getRepository(WebhookEntity).findOneByOrFail({ id: 'stale' })).secretSealed).toBe(stale);
    expect((await ds.getRepository(WebhookEntity).findOneByOrFail({ id: 'unsealed' })).secretSealed).toBeNull();
    await ds.getRepository(WebhookEntity).delete(['stale', 'unsealed']);
    await expectAllIn('SM4-CTR-HMAC-SM3');
    // A second start changes nothing.
    expect((await resealAtRest(ds, encryption['SM4-CTR-HMAC-SM3'], COLUMNS)).resealed).toEqual({ 'signing key': 0, 'webhook secret': 0 });
  });

  it('fails part-way through → nothing re-sealed, every value still opens (any failure point, either direction)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: KEYS + HOOKS }), async (failAt) => {
        const from = sealedAlgOf((await snapshot()).keys[0][1])!;
        const to: SealAlg = from === 'AES-256-GCM' ? 'SM4-CTR-HMAC-SM3' : 'AES-256-GCM';
        const before = await snapshot();
        let seals = 0;
        const failing = {
          alg: to,
          kekId: () => encryption[to].kekId(),
          openLabelled: (b: string, s: string, k?: string | null) => encryption[to].openLabelled(b, s, k),
          seal: async (b: string, p: Buffer) => {
            if (++seals === failAt) throw new Error('simulated crash part-way');
            return encryption[to].seal(b, p);
          },
        };
        await expect(resealAtRest(ds, failing, COLUMNS)).rejects.toThrow('simulated crash part-way');
        expect(await snapshot()).toEqual(before);
        await expectAllIn(from);
        // The next start completes it.
        expect((await resealAtRest(ds, encryption[to], COLUMNS)).resealed).toEqual({ 'signing key': KEYS, 'webhook secret': HOOKS });
        await expectAllIn(to);
      }),
      { numRuns: 6 },
    );
  });

  it('refuses to re-seal when a signing key does not open (altered or another secret), names it, changes nothing', async () => {
    const before = await snapshot();
    const [kid, sealed] = before.keys[1];
    const to: SealAlg = sealedAlgOf(sealed) === 'AES-256-GCM' ? 'SM4-CTR-HMAC-SM3' : 'AES-256-GCM';
    const altered = await new KeyEncryption('another-secret-of-enough-length', sealedAlgOf(sealed)).seal(kid, randomBytes(48));
    await ds.getRepository(SigningKeyEntity).update({ kid: kid }, { privateKeyEnc: altered });
    const error = await resealAtRest(ds, encryption[to], COLUMNS).catch((e: Error) => e);
    expect((error as Error).message).toBe(
      `signing key ${kid} cannot be opened to re-seal it as ${to}: wrong key-encryption secret (TONGBAN_KEY_ENCRYPTION_SECRET) or altered record; nothing was re-sealed`,
    );
    const after = await snapshot();
    expect(after.hooks).toEqual(before.hooks);
    expect(after.keys.filter(([k]) => k !== kid)).toEqual(before.keys.filter(([k]) => k !== kid));
    await ds.getRepository(SigningKeyEntity).update({ kid: kid }, { privateKeyEnc: sealed });
  });
});
