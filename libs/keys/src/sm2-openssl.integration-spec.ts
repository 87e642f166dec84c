import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sm2PublicKey, sm2SignatureFromDer, sm2SignatureToDer, sm2Verify } from '@tongban/gm';
import { Sm2SigningKey } from './sm2-signing-key';

// Interoperability with an SM2 implementation nobody here wrote: the `openssl` command (Debian's
// OpenSSL 3.0), both ways, with the default signer identity passed as OpenSSL's distid.
const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!HAVE_OPENSSL) console.warn('SKIPPED: SM2 OpenSSL interop tests need the `openssl` command (apt-get install openssl)');
const describeWithOpenssl = HAVE_OPENSSL ? describe : describe.skip;
const DISTID = 'distid:1234567812345678';

describeWithOpenssl('SM2 with SM3: interoperability with the openssl command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tongban-sm2-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });
  /** `openssl dgst -sm3 -verify`: true on "Verified OK", false on "Verification failure". */
  const opensslVerifies = (pub: string, sig: Buffer, msg: Buffer, distid = DISTID): boolean => {
    writeFileSync(file('sig.der'), sig);
    writeFileSync(file('msg'), msg);
    const r = openssl('dgst', '-sm3', '-verify', pub, '-sigopt', distid, '-signature', file('sig.der'), file('msg'));
    if (r.status === 0 && r.stdout.includes('Verified OK')) return true;
    if (r.status === 1 && r.stdout.includes('Verification failure')) return false;
    throw new Error(`openssl dgst: unexpected result ${r.status}: ${r.stdout} ${r.stderr}`);
  };
  const opensslSigns = (key: string, msg: Buffer, distid = DISTID): Buffer => {
    writeFileSync(file('msg'), msg);
    execFileSync('openssl', ['dgst', '-sm3', '-sign', key, '-sigopt', distid, '-out', file('osig.der'), file('msg')]);
    return readFileSync(file('osig.der'));
  };
  const messages = [Buffer.alloc(0), Buffer.from('eyJhbGciOiJTTTJTTTMifQ.eyJpc3MiOiIxMzAwMDAifQ'), randomBytes(1), randomBytes(4096), randomBytes(1 << 20)];

  let signer: Sm2SigningKey;
  beforeAll(() => {
    execFileSync('openssl', ['genpkey', '-algorithm', 'SM2', '-out', file('key.pem')]);
    execFileSync('openssl', ['pkey', '-in', file('key.pem'), '-pubout', '-out', file('pub.pem')]);
    signer = Sm2SigningKey.fromPem(readFileSync(file('key.pem'), 'utf8'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the key pair openssl generated: the same public key from the private and the public PEM', () => {
    const pub = Sm2PublicKey.fromKeyObject(createPublicKey(readFileSync(file('pub.pem'))));
    expect(pub.jwk()).toEqual(signer.publicKey.jwk());
    expect(pub.spki()).toEqual(createPublicKey(readFileSync(file('pub.pem'))).export({ type: 'spki', format: 'der' }));
  });

  it.each(messages.map((m) => [m.length, m] as const))('a Tongban signature over %i bytes verifies with openssl dgst -sm3 -sigopt distid:1234567812345678', (_len, msg) => {
    const sig = signer.sign(msg);
    expect(opensslVerifies(file('pub.pem'), sm2SignatureToDer(sig), msg)).toBe(true);
    const changed = Buffer.concat([msg, Buffer.from([0])]);
    expect(opensslVerifies(file('pub.pem'), sm2SignatureToDer(sig), changed)).toBe(false);
  });

  it.each(messages.map((m) => [m.length, m] as const))('an openssl signature over %i bytes verifies in Tongban', (_len, msg) => {
    const sig = sm2SignatureFromDer(opensslSigns(file('key.pem'), msg));
    expect(sm2Verify(signer.publicKey, msg, sig)).toBe(true);
    expect(sm2Verify(signer.publicKey, Buffer.concat([msg, Buffer.from([0])]), sig)).toBe(false);
  });

  it('the identity matters on both sides: another distid verifies only with that identity', () => {
    const msg = Buffer.from('identity');
    const sig = sm2SignatureFromDer(opensslSigns(file('key.pem'), msg, 'distid:ALICE123@YAHOO.COM'));
    expect(sm2Verify(signer.publicKey, msg, sig)).toBe(false);
    expect(sm2Verify(signer.publicKey, msg, sig, Buffer.from('ALICE123@YAHOO.COM'))).toBe(true);
    expect(opensslVerifies(file('pub.pem'), sm2SignatureToDer(signer.sign(msg)), msg, 'distid:ALICE123@YAHOO.COM')).toBe(false);
  });

  it('openssl accepts the test vector of docs/protocol.md §16.6 (PEM body, DER signature, signing input)', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### 16.6 Test vector'));
    const value = (name: string) => new RegExp(`^${name.replace(/[()]/g, '\\$&')}:\\s+(\\S+)$`, 'm').exec(section)![1];
    writeFileSync(file('vector.pem'), `-----BEGIN PUBLIC KEY-----\n${value('public key (PEM body)')}\n-----END PUBLIC KEY-----\n`);
    const der = Buffer.from(value('signature as DER for openssl (hex)'), 'hex');
    const input = Buffer.from(value('signing input'), 'ascii');
    expect(opensslVerifies(file('vector.pem'), der, input)).toBe(true);
    expect(opensslVerifies(file('vector.pem'), der, Buffer.concat([input, Buffer.from('.')]))).toBe(false);
  });

  it('openssl accepts the GB/T 32918.5 Annex A signature under the Annex A key Tongban builds', () => {
    const hex = (s: string) => Buffer.from(s, 'hex');
    const annex = Sm2SigningKey.fromJwk({
      kty: 'EC',
      crv: 'SM2',
      x: hex('09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020').toString('base64url'),
      y: hex('ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13').toString('base64url'),
      d: hex('3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8').toString('base64url'),
    });
    writeFileSync(file('annex.der'), annex.publicKey.spki());
    execFileSync('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', file('annex.der'), '-out', file('annex.pem')]);
    const sig = hex('f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa');
    expect(opensslVerifies(file('annex.pem'), sm2SignatureToDer(sig), Buffer.from('message digest'))).toBe(true);
  });
});
