import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { calculateJwkThumbprint, compactVerify, decodeProtectedHeader, importJWK, JWK } from 'jose';
import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { DatabaseTarget, buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { importPublicJwk, publicJwkThumbprint, verifyJwsSignature } from '@tongban/gm';
import { KeyEncryption } from './key-encryption';
import { Sm2SigningKey } from './sm2-signing-key';
import { KeyStore } from './key-store.service';
import { KeysOptions } from './keys.options';
import { SigningKeyEntity } from './signing-key.entity';

jest.setTimeout(30_000);

// Everything the key store logs, to prove it never logs key material (and to keep the output quiet).
const logs: string[] = [];
const collect = (...m: unknown[]) => void logs.push(m.map(String).join(' '));
beforeAll(() => {
  Logger.overrideLogger({ log: collect, error: collect, warn: collect, debug: collect, verbose: collect, fatal: collect });
});
afterAll(() => {
  Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
});

class TestClock extends Clock {
  constructor(private t = Date.UTC(2025, 0, 15, 8, 0, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const SECRET = 'integration-secret-0123456789abcdef';
const OTHER_SECRET = 'a-completely-different-secret-xyz';
const eddsa: KeysOptions = { keyEncryptionSecret: SECRET, signingAlg: 'EdDSA' };
const es256: KeysOptions = { keyEncryptionSecret: SECRET, signingAlg: 'ES256' };
const sm2: KeysOptions = { keyEncryptionSecret: SECRET, signingAlg: 'SM2SM3' };

/** Every textual form in which the private key could leak into a column or a message. */
function privateEncodings(der: Buffer, d: string): string[] {
  const raw = Buffer.from(d, 'base64url');
  return [der.toString('base64'), der.toString('base64url'), der.toString('hex'), der.toString('hex').toUpperCase(), d, raw.toString('base64'), raw.toString('hex')];
}

function assertNoPrivateParts(jwks: JWK[]): void {
  for (const jwk of jwks) {
    expect(jwk).not.toHaveProperty('d');
    for (const k of ['p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(k);
  }
}

describeEachDatabase('KeyStore', (fresh) => {
  const open: DataSource[] = [];
  let clock: TestClock;
  const connect = async (target: DatabaseTarget) => {
    const ds = buildDataSource(target, [SigningKeyEntity]);
    open.push(ds);
    return openDatabase(ds);
  };

  beforeEach(() => {
    clock = new TestClock();
  });

  afterEach(async () => {
    for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
  });

  it('generates exactly one ACTIVE EdDSA key on an empty database', async () => {
    const ds = await connect(fresh());
    const store = new KeyStore(ds, clock, eddsa);
    await store.init();

    const rows = await ds.getRepository(SigningKeyEntity).find();
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row.status).toBe('ACTIVE');
    expect(row.alg).toBe('EdDSA');
    expect(row.createdAt.getTime()).toBe(clock.now().getTime());
    expect(row.activatedAt?.getTime()).toBe(clock.now().getTime());
    expect(row.retiredAt).toBeNull();
    expect(row.revokedAt).toBeNull();

    const jwk = JSON.parse(row.publicJwk) as JWK;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: row.kid });
    expect(jwk).not.toHaveProperty('d');
    expect(row.kid).toBe(await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, 'sha256'));
    expect(store.activeKid()).toBe(row.kid);
    expect(store.algOf(row.kid)).toBe('EdDSA');
    expect(store.list()).toEqual([
      { kid: row.kid, alg: 'EdDSA', status: 'ACTIVE', createdAt: clock.now().toISOString(), activatedAt: clock.now().toISOString(), retiredAt: null, revokedAt: null, revocationReason: null, jwk },
    ]);
  });

  it('a second KeyStore on the same database loads the same key and generates none', async () => {
    const target = fresh();
    const ds = await connect(target);
    const first = new KeyStore(ds, clock, eddsa);
    await first.init();
    const kid = first.activeKid();
    await ds.destroy();

    clock.advance(60_000);
    const ds2 = await connect(target);
    const second = new KeyStore(ds2, clock, eddsa);
    await second.init();
    expect(second.activeKid()).toBe(kid);
    expect(await ds2.getRepository(SigningKeyEntity).count()).toBe(1);
    expect(second.jwks()).toEqual(first.jwks());

    // The reloaded private key is the same key: a JWS it signs verifies against the first store's JWKS.
    const jws = second.signJws('test+jwt', { hello: 'again' });
    const pub = await importJWK(first.jwks().keys[0], 'EdDSA');
    await expect(compactVerify(jws, pub, { algorithms: ['EdDSA'] })).resolves.toBeDefined();
  });

  it('stores the private key only encrypted: no PKCS8 DER and no JWK d in any encoding', async () => {
    const ds = await connect(fresh());
    const store = new KeyStore(ds, clock, eddsa);
    await store.init();
    const row = await ds.getRepository(SigningKeyEntity).findOneByOrFail({ kid: store.activeKid() });

    // Recover the real private key from the sealed column (with the right secret) to know what must not appear.
    const der = await new KeyEncryption(SECRET).open(row.kid, row.privateKeyEnc);
    const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const privJwk = priv.export({ format: 'jwk' }) as JWK;
    const pubJwk = JSON.parse(row.publicJwk) as JWK;
    // Sanity: the recovered key is the stored key pair, so the absence checks below are meaningful.
    expect(privJwk.x).toBe(pubJwk.x);
    expect(createPublicKey(priv).export({ format: 'jwk' })).toMatchObject({ x: pubJwk.x });
    expect(typeof privJwk.d).toBe('string');

    const stored = [row.privateKeyEnc, row.publicJwk];
    for (const leaked of privateEncodings(der, privJwk.d!)) {
      for (const column of stored) expect(column.includes(leaked)).toBe(false);
    }
    expect(row.privateKeyEnc.startsWith('v1.')).toBe(true);
    expect(pubJwk).not.toHaveProperty('d');
    // Nor does anything the store logged.
    expect(logs.join('\n')).toContain(row.kid);
    for (const leaked of [...privateEncodings(der, privJwk.d!), row.privateKeyEnc, SECRET]) expect(logs.join('\n').includes(leaked)).toBe(false);
  });

  it('fails init with a different key-encryption secret, naming the setting and leaking no key material', async () => {
    const target = fresh();
    const ds = await connect(target);
    const good = new KeyStore(ds, clock, eddsa);
    await good.init();
    const row = await ds.getRepository(SigningKeyEntity).findOneByOrFail({ kid: good.activeKid() });
    const der = await new KeyEncryption(SECRET).open(row.kid, row.privateKeyEnc);
    const d = (createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }) as JWK).d!;

    const wrong = new KeyStore(ds, clock, { ...eddsa, keyEncryptionSecret: OTHER_SECRET });
    const error = await wrong.init().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toContain('TONGBAN_KEY_ENCRYPTION_SECRET');
    expect(error!.message).toContain(row.kid);
    const text = `${error!.message}\n${error!.stack ?? ''}`;
    for (const leaked of [...privateEncodings(der, d), row.privateKeyEnc, SECRET, OTHER_SECRET]) expect(text.includes(leaked)).toBe(false);
    // It refused rather than silently generating a replacement key.
    expect(await ds.getRepository(SigningKeyEntity).count()).toBe(1);
    expect(() => wrong.activeKid()).toThrow('not initialised');
  });

  it('signJws produces an EdDSA JWS that jose verifies against the JWKS public key', async () => {
    const ds = await connect(fresh());
    const store = new KeyStore(ds, clock, eddsa);
    await store.init();
    const claims = { iss: '440000', aud: '110000', n: 42, s: '通办' };
    const jws = store.signJws('tongban-envelope+jwt', claims);

    const [jwk] = store.jwks().keys;
    const { payload, protectedHeader } = await compactVerify(jws, await importJWK(jwk, 'EdDSA'), { algorithms: ['EdDSA'] });
    expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual(claims);
    expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: store.activeKid(), typ: 'tongban-envelope+jwt' });
    // Algorithm pinning holds: the same JWS is refused when only ES256 is allowed.
    await expect(compactVerify(jws, await importJWK(jwk, 'EdDSA'), { algorithms: ['ES256'] })).rejects.toThrow();
    // And a modified payload does not verify.
    const [h, , s] = jws.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, n: 43 })).toString('base64url')}.${s}`;
    await expect(compactVerify(forged, await importJWK(jwk, 'EdDSA'), { algorithms: ['EdDSA'] })).rejects.toThrow();
  });

  it('works with ES256 keys too', async () => {
    const target = fresh();
    const ds = await connect(target);
    const store = new KeyStore(ds, clock, es256);
    await store.init();
    const [row] = await ds.getRepository(SigningKeyEntity).find();
    expect(row.alg).toBe('ES256');
    const [jwk] = store.jwks().keys;
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: row.kid });
    assertNoPrivateParts(store.jwks().keys);

    const jws = store.signJws('t', { a: 1 });
    expect(decodeProtectedHeader(jws)).toMatchObject({ alg: 'ES256', kid: row.kid });
    const { payload } = await compactVerify(jws, await importJWK(jwk, 'ES256'), { algorithms: ['ES256'] });
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ a: 1 });

    // The ES256 private key survives a reload.
    await ds.destroy();
    const again = new KeyStore(await connect(target), clock, es256);
    await again.init();
    expect(again.activeKid()).toBe(row.kid);
    await expect(compactVerify(again.signJws('t', { b: 2 }), await importJWK(jwk, 'ES256'), { algorithms: ['ES256'] })).resolves.toBeDefined();
  });

  it('works with SM2SM3 keys: sealed at rest (no scalar in any column or log), r‖s signatures that @tongban/gm verifies, kept across a reload', async () => {
    const target = fresh();
    const ds = await connect(target);
    const store = new KeyStore(ds, clock, sm2);
    await store.init();
    const [row] = await ds.getRepository(SigningKeyEntity).find();
    expect(row.alg).toBe('SM2SM3');
    const [jwk] = store.jwks().keys;
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'SM2', alg: 'SM2SM3', use: 'sig', kid: row.kid });
    expect(row.kid).toBe(publicJwkThumbprint(jwk));
    assertNoPrivateParts(store.jwks().keys);
    const der = await new KeyEncryption(SECRET).open(row.kid, row.privateKeyEnc);
    const scalar = der.subarray(36, 68);
    expect(Sm2SigningKey.fromPkcs8(der).publicKey.jwk().x).toBe(jwk.x);
    for (const leaked of [der.toString('base64'), der.toString('hex'), scalar.toString('hex'), scalar.toString('base64url')]) {
      for (const text of [row.privateKeyEnc, row.publicJwk, logs.join('\n')]) expect(text.includes(leaked)).toBe(false);
    }

    const jws = store.signJws('t', { a: 1 });
    expect(decodeProtectedHeader(jws)).toMatchObject({ alg: 'SM2SM3', kid: row.kid });
    expect(Buffer.from(jws.split('.')[2], 'base64url')).toHaveLength(64);
    const pub = importPublicJwk(jwk, 'SM2SM3');
    expect(verifyJwsSignature(jws, pub, 'SM2SM3')).toBe(true);
    expect(verifyJwsSignature(jws, store.publicKey(row.kid)!.key, 'SM2SM3')).toBe(true);

    await ds.destroy();
    const again = new KeyStore(await connect(target), clock, sm2);
    await again.init();
    expect(again.activeKid()).toBe(row.kid);
    expect(verifyJwsSignature(again.signJws('t', { b: 2 }), pub, 'SM2SM3')).toBe(true);
  });

  it('fails init when the ciphertext column has been tampered with', async () => {
    const target = fresh();
    const ds = await connect(target);
    const store = new KeyStore(ds, clock, eddsa);
    await store.init();
    const repo = ds.getRepository(SigningKeyEntity);
    const row = await repo.findOneByOrFail({ kid: store.activeKid() });
    const parts = row.privateKeyEnc.split('.');
    // Flip the first character of the ciphertext part: this changes its first byte.
    parts[4] = (parts[4][0] === 'A' ? 'B' : 'A') + parts[4].slice(1);
    await repo.update({ kid: row.kid }, { privateKeyEnc: parts.join('.') });

    await expect(new KeyStore(ds, clock, eddsa).init()).rejects.toThrow(/cannot be decrypted.*altered record/);
    expect(await repo.count()).toBe(1);

    // A sealed value moved onto another key id (the kid is bound as associated data) does not open either.
    await repo.update({ kid: row.kid }, { privateKeyEnc: row.privateKeyEnc });
    await expect(new KeyStore(ds, clock, eddsa).init()).resolves.toBeUndefined();
    const other = new KeyStore(ds, clock, eddsa);
    clock.advance(1000);
    const kid2 = await other.insertKey(ds.manager, 'EdDSA', 'ACTIVE', clock.now());
    await repo.update({ kid: kid2 }, { privateKeyEnc: row.privateKeyEnc });
    await expect(new KeyStore(ds, clock, eddsa).init()).rejects.toThrow(kid2);
  });

  it('list() and jwks() never contain d, with several keys of both algorithms', async () => {
    const target = fresh();
    const ds = await connect(target);
    const store = new KeyStore(ds, clock, eddsa);
    await store.init();
    const first = store.activeKid();
    clock.advance(1000);
    const second = await store.insertKey(ds.manager, 'ES256', 'ACTIVE', clock.now());

    const reloaded = new KeyStore(ds, clock, eddsa);
    await reloaded.init();
    // The newest ACTIVE key signs.
    expect(reloaded.activeKid()).toBe(second);
    expect(reloaded.list().map((k) => [k.kid, k.alg, k.status])).toEqual([
      [first, 'EdDSA', 'ACTIVE'],
      [second, 'ES256', 'ACTIVE'],
    ]);
    expect(reloaded.jwks().keys.map((k) => k.kid)).toEqual([first, second]);
    assertNoPrivateParts(reloaded.jwks().keys);
    assertNoPrivateParts(reloaded.list().map((k) => k.jwk));
    const text = JSON.stringify([reloaded.list(), reloaded.jwks()]);
    expect(text).not.toMatch(/"d"\s*:/);
    for (const row of await ds.getRepository(SigningKeyEntity).find()) {
      const der = await new KeyEncryption(SECRET).open(row.kid, row.privateKeyEnc);
      const d = (createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }) as JWK).d!;
      for (const leaked of privateEncodings(der, d)) expect(text.includes(leaked)).toBe(false);
    }
  });
});
