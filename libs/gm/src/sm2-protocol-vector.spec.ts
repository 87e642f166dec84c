import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sm2PrivateJwk, Sm2SigningKey } from '@tongban/keys';
import { sm2SignWithNonce } from '@tongban/testkit';
import { Sm2PublicKey, sm2JwkThumbprint, sm2MessageDigest, sm2SignatureFromDer, sm2SignatureToDer, sm2ThumbprintInput, sm2Verify, sm2Za } from '.';

// docs/protocol.md §16.6 is a test vector: the values come from the document, the code must
// reproduce each of them, so the document and the code cannot drift apart.
const DOC = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'protocol.md'), 'utf8');

/** `name: value` lines inside the fenced blocks of a section (the first ": " separates them). */
function sm2VectorValues(doc: string): Record<string, string> {
  const start = doc.indexOf('### 16.6 Test vector');
  if (start < 0) throw new Error('docs/protocol.md has no section "16.6 Test vector"');
  const end = doc.indexOf('\n## ', start);
  const out: Record<string, string> = {};
  for (const block of doc.slice(start, end < 0 ? undefined : end).match(/```[^\n]*\n[\s\S]*?```/g) ?? []) {
    for (const line of block.split('\n')) {
      const m = /^([^:{]+?):\s+(.+)$/.exec(line.trim());
      if (m) out[m[1]] = m[2].trim();
    }
  }
  return out;
}

const v = sm2VectorValues(DOC);
const NAMES = [
  'private JWK (TEST ONLY)',
  'd (hex)',
  'public x (hex)',
  'public y (hex)',
  'public JWK',
  'thumbprint input',
  'SHA-256 of it (hex)',
  'kid',
  'public key (PEM body)',
  'Z_A (hex)',
  'header JSON',
  'claims JSON',
  'signing input',
  'e (hex)',
  'k (hex, TEST ONLY)',
  'signature r‖s (hex)',
  'signature (base64url)',
  'signature as DER for openssl (hex)',
  'JWS',
];

describe('docs/protocol.md §16.6: the SM2SM3 test vector', () => {
  it('has every value it needs', () => {
    for (const name of NAMES) expect({ name, value: v[name] }).toEqual({ name, value: expect.any(String) });
  });

  const privateJwk = JSON.parse(v['private JWK (TEST ONLY)']) as Sm2PrivateJwk;
  const hex = (name: string) => Buffer.from(v[name], 'hex');
  const input = Buffer.from(v['signing input'], 'ascii');

  it('the key: d and x, y agree with the JWK, the public JWK and PEM are its public half, the kid is its thumbprint', () => {
    const signer = Sm2SigningKey.fromJwk(privateJwk);
    const pub = Sm2PublicKey.fromJwk(JSON.parse(v['public JWK']));
    expect(Buffer.from(privateJwk.d, 'base64url')).toEqual(hex('d (hex)'));
    expect(pub.point).toEqual({ x: hex('public x (hex)'), y: hex('public y (hex)') });
    expect(signer.publicKey.jwk()).toEqual(pub.jwk());
    expect(JSON.stringify(pub.jwk())).toBe(v['public JWK']);
    expect(Sm2PublicKey.fromSpki(Buffer.from(v['public key (PEM body)'], 'base64')).jwk()).toEqual(pub.jwk());
    expect(sm2ThumbprintInput(pub.jwk())).toBe(v['thumbprint input']);
    expect(createHash('sha256').update(v['thumbprint input']).digest('hex')).toBe(v['SHA-256 of it (hex)']);
    expect(sm2JwkThumbprint(pub.jwk())).toBe(v.kid);
    expect(pub.thumbprint()).toBe(v.kid);
  });

  it('the signing input is base64url(header) "." base64url(claims), and the header names SM2SM3 and the kid', () => {
    expect(input.toString()).toBe(`${Buffer.from(v['header JSON']).toString('base64url')}.${Buffer.from(v['claims JSON']).toString('base64url')}`);
    expect(JSON.parse(v['header JSON'])).toEqual({ alg: 'SM2SM3', kid: v.kid, typ: 'tongban-envelope+jws' });
  });

  it('Z_A, e and the signature with the given k are reproduced exactly, in every encoding', () => {
    const pub = Sm2PublicKey.fromJwk(JSON.parse(v['public JWK']));
    expect(sm2Za(pub.point)).toEqual(hex('Z_A (hex)'));
    expect(sm2MessageDigest(pub.za, input)).toEqual(hex('e (hex)'));
    const sig = sm2SignWithNonce(Buffer.from(privateJwk.d, 'base64url'), pub.za, input, hex('k (hex, TEST ONLY)'));
    expect(sig).toEqual(hex('signature r‖s (hex)'));
    expect(sig.toString('base64url')).toBe(v['signature (base64url)']);
    expect(sm2SignatureToDer(sig)).toEqual(hex('signature as DER for openssl (hex)'));
    expect(sm2SignatureFromDer(hex('signature as DER for openssl (hex)'))).toEqual(sig);
    expect(v.JWS).toBe(`${v['signing input']}.${v['signature (base64url)']}`);
  });

  it('the JWS verifies with the public JWK, and not after a change to the input or the signature', () => {
    const pub = Sm2PublicKey.fromJwk(JSON.parse(v['public JWK']));
    const [h, c, s] = v.JWS.split('.');
    const sig = Buffer.from(s, 'base64url');
    expect(sm2Verify(pub, Buffer.from(`${h}.${c}`), sig)).toBe(true);
    const changed = Buffer.from(Buffer.from(c, 'base64url').toString().replace('"440000"', '"110000"')).toString('base64url');
    expect(sm2Verify(pub, Buffer.from(`${h}.${changed}`), sig)).toBe(false);
    sig[63] ^= 1;
    expect(sm2Verify(pub, Buffer.from(`${h}.${c}`), sig)).toBe(false);
  });
});
