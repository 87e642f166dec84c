import { KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import { compactVerify } from 'jose';
import { JwsAlgorithm, critAccepted, verifyJwsSignature } from './jws-signature';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const ed = generateKeyPairSync('ed25519');
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });

function token(alg: JwsAlgorithm, privateKey: KeyObject, header: object = {}, claims: object = { iss: '110000', n: 1 }, der = false): string {
  const input = `${b64({ alg, kid: 'k1', typ: 't', ...header })}.${b64(claims)}`;
  const data = Buffer.from(input);
  const sig = alg === 'EdDSA' ? sign(null, data, privateKey) : sign('sha256', data, { key: privateKey, dsaEncoding: der ? 'der' : 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** What jose's compactVerify says with the same policy (the one algorithm of the key). */
async function jose(jws: string, key: KeyObject, alg: JwsAlgorithm): Promise<boolean> {
  return compactVerify(jws, key, { algorithms: [alg] }).then(
    () => true,
    () => false,
  );
}

describe('verifyJwsSignature (node:crypto on the hot path) agrees with jose', () => {
  const edToken = token('EdDSA', ed.privateKey);
  const esToken = token('ES256', p256.privateKey);
  const flip = (t: string, at: number) => t.slice(0, at) + (t[at] === 'A' ? 'B' : 'A') + t.slice(at + 1);
  const cases: [string, string, KeyObject, JwsAlgorithm][] = [
    ['EdDSA, good', edToken, ed.publicKey, 'EdDSA'],
    ['ES256, good', esToken, p256.publicKey, 'ES256'],
    ['EdDSA, signature changed', flip(edToken, edToken.length - 5), ed.publicKey, 'EdDSA'],
    ['EdDSA, claims changed', flip(edToken, edToken.indexOf('.') + 3), ed.publicKey, 'EdDSA'],
    ['EdDSA, header changed', flip(edToken, 3), ed.publicKey, 'EdDSA'],
    ['ES256, signature changed', flip(esToken, esToken.length - 5), p256.publicKey, 'ES256'],
    ['ES256 signature in DER form', token('ES256', p256.privateKey, {}, undefined, true), p256.publicKey, 'ES256'],
    ['EdDSA token, another Ed25519 key', edToken, generateKeyPairSync('ed25519').publicKey, 'EdDSA'],
    ['EdDSA token checked with a P-256 key', edToken, p256.publicKey, 'EdDSA'],
    ['ES256 token checked with an Ed25519 key', esToken, ed.publicKey, 'ES256'],
    ['ES384-signed token on a P-384 key named ES256', token('ES256', p384.privateKey), p384.publicKey, 'ES256'],
    ['four parts', `${edToken}.x`, ed.publicKey, 'EdDSA'],
    ['two parts', edToken.slice(0, edToken.lastIndexOf('.')), ed.publicKey, 'EdDSA'],
    ['empty signature', `${edToken.slice(0, edToken.lastIndexOf('.'))}.`, ed.publicKey, 'EdDSA'],
    ['signature truncated', edToken.slice(0, -4), ed.publicKey, 'EdDSA'],
  ];
  it.each(cases)('%s', async (_name, jws, key, alg) => {
    expect(verifyJwsSignature(jws, key, alg)).toBe(await jose(jws, key, alg));
  });

  it('accepts the good tokens (the comparison above is not vacuous)', () => {
    expect(verifyJwsSignature(edToken, ed.publicKey, 'EdDSA')).toBe(true);
    expect(verifyJwsSignature(esToken, p256.publicKey, 'ES256')).toBe(true);
  });

  it('non-ASCII text in a part: signed over its UTF-8 bytes, as jose does', async () => {
    const input = `${b64({ alg: 'EdDSA' })}.北京`;
    const jws = `${input}.${sign(null, Buffer.from(input, 'utf8'), ed.privateKey).toString('base64url')}`;
    expect(verifyJwsSignature(jws, ed.publicKey, 'EdDSA')).toBe(true);
    expect(await jose(jws, ed.publicKey, 'EdDSA')).toBe(true);
  });
});

describe('critAccepted agrees with jose on critical header parameters', () => {
  const cases: [string, object][] = [
    ['no crit', {}],
    ['crit b64 with b64 true', { crit: ['b64'], b64: true }],
    ['crit b64 without b64', { crit: ['b64'] }],
    ['crit b64 with b64 a string', { crit: ['b64'], b64: 'true' }],
    ['unknown critical extension', { crit: ['exp'], exp: 1 }],
    ['empty crit', { crit: [] }],
    ['crit not a list', { crit: 'b64', b64: true }],
  ];
  it.each(cases)('%s', async (_name, header) => {
    const jws = token('EdDSA', ed.privateKey, header);
    const header0 = JSON.parse(Buffer.from(jws.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(critAccepted(header0) && verifyJwsSignature(jws, ed.publicKey, 'EdDSA')).toBe(await jose(jws, ed.publicKey, 'EdDSA'));
  });
});
