import { JsonWebKeyInput, createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PublicJwkMembers, Sm2PublicKey, sm2MessageDigest, verifyJwsWithKeySet } from '@tongban/gm';
import { KeyStore, Sm2PrivateJwk, Sm2SigningKey } from '@tongban/keys';
import { sm2SignWithNonce } from '@tongban/testkit';
import { StatusEntry, decompressBase64url } from './bitstring';
import { STATUS_LIST_TYP, StatusListClaims, encodeStatusListContent, statusListClaims } from './status-list-claims';
import { decodeStatusList, listedEntry } from './status-list-reader';

// docs/protocol-status.md §5 is a test vector: its inputs are read from the document, the list is
// built and signed with the gateway's own code, and what the document says comes out must come out.
const DOC = readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'protocol-status.md'), 'utf8');

/** `name: value` lines of the fenced blocks between two headings of the document. */
function values(from: string, to?: string): Record<string, string> {
  const start = DOC.indexOf(from);
  if (start < 0) throw new Error(`docs/protocol-status.md has no "${from}"`);
  const section = DOC.slice(start, to ? DOC.indexOf(to, start) : undefined);
  const out: Record<string, string> = {};
  for (const block of section.match(/```[^\n]*\n[\s\S]*?```/g) ?? [])
    for (const line of block.split('\n')) {
      const m = /^([A-Za-z_ ()=,-]+?):\s+(.+)$/.exec(line.trim());
      if (m) out[m[1]] = m[2].trim();
    }
  return out;
}
const v = values('## 5. Test vector', '### 5.1');

const entries: StatusEntry[] = v.entries.split(';').map((e) => {
  const [idx, status, at] = e.trim().split(/\s+/);
  return { idx: Number(idx), status: status as StatusEntry['status'], changedAt: Number(at) };
});
const docClaims = JSON.parse(v.claims) as StatusListClaims;

describe('docs/protocol-status.md §5: the status list test vector', () => {
  it('has every input and output it needs', () => {
    for (const k of ['private JWK (TEST ONLY)', 'public JWK', 'entries', 'non-zero bitstring bytes (index=hex)', 'changes records (hex)', 'encodedList', 'changes', 'header', 'claims', 'jws'])
      expect(v[k]).toBeDefined();
    expect(entries).toHaveLength(3);
  });

  it('the documented bitstring and change records are what the list decompresses to', () => {
    const bits = decompressBase64url(v.encodedList, 32768);
    expect(bits).toHaveLength(32768);
    const nonZero = [...bits.entries()].filter(([, b]) => b !== 0).map(([i, b]) => `${i}=${b.toString(16).padStart(2, '0')}`);
    expect(nonZero.join(' ')).toBe(v['non-zero bitstring bytes (index=hex)']);
    expect(decompressBase64url(v.changes, 1 << 20).toString('hex')).toBe(v['changes records (hex)']);
  });

  it('the gateway builds the same encoded list, claims and JWS from the inputs', () => {
    const content = encodeStatusListContent(docClaims.size, entries);
    expect(content).toEqual({ encodedList: v.encodedList, changes: v.changes });
    const claims = statusListClaims(
      { iss: docClaims.iss, listId: docClaims.sub, typeCode: docClaims.licenceType, size: docClaims.size, iat: docClaims.iat, ttl: docClaims.ttl, ver: docClaims.ver },
      content,
    );
    expect(JSON.stringify(claims)).toBe(v.claims);
    const key = createPrivateKey({ key: JSON.parse(v['private JWK (TEST ONLY)']) as object & { kty: string }, format: 'jwk' });
    const kid = (JSON.parse(v['public JWK']) as { kid: string }).kid;
    // KeyStore.signJws itself, with the document's test key in place of the database.
    const store = { activeKid: () => kid, algOf: () => 'EdDSA', sign: (_kid: string, data: Buffer) => sign(null, data, key) };
    const jws = KeyStore.prototype.signJws.call(store as unknown as KeyStore, STATUS_LIST_TYP, claims);
    expect(Buffer.from(jws.split('.')[0], 'base64url').toString()).toBe(v.header);
    expect(jws).toBe(v.jws);
  });

  it('the JWS verifies offline with the public key given, and a changed one does not', () => {
    const set = { keys: [JSON.parse(v['public JWK']) as PublicJwkMembers] };
    expect(verifyJwsWithKeySet(v.jws, set, ['EdDSA'])).not.toHaveProperty('problem');
    const [h, c, s] = v.jws.split('.');
    const tampered = Buffer.from(JSON.stringify({ ...docClaims, ver: 4 })).toString('base64url');
    expect(verifyJwsWithKeySet(`${h}.${tampered}.${s}`, set, ['EdDSA'])).toHaveProperty('problem');
    expect(c).toBe(Buffer.from(v.claims).toString('base64url'));
  });

  it('reading the list gives each documented entry its status and time, and VALID elsewhere', () => {
    const list = decodeStatusList(docClaims);
    for (const e of entries) expect(listedEntry(list, e.idx)).toEqual({ status: e.status, changedAt: e.changedAt });
    for (const idx of [0, 6, 8, 999, 1001, 131070]) expect(listedEntry(list, idx)).toEqual({ status: 'VALID', changedAt: null });
  });
});

// §5.1 and §5.2: the same claims signed with ES256 and SM2SM3 (randomised signatures: checked by
// verification, and SM2 with its fixed k byte for byte).
describe.each([
  ['ES256', '### 5.1', '### 5.2'],
  ['SM2SM3', '### 5.2', undefined],
] as const)('docs/protocol-status.md: the list signed with %s', (alg, from, to) => {
  const w = values(from, to);
  const pub = JSON.parse(w['public JWK'] ?? '{}') as PublicJwkMembers & { kid: string; crv: string; kty: string; x: string; y: string };
  const set = { keys: [pub] };
  const [h, c, s] = (w.jws ?? '..').split('.');

  it('has its key, header and JWS; the kid is the key thumbprint and the header names the algorithm', () => {
    for (const k of ['private JWK (TEST ONLY)', 'public JWK', 'header', 'jws']) expect({ k, value: w[k] }).toEqual({ k, value: expect.any(String) });
    const thumbprintInput = JSON.stringify({ crv: pub.crv, kty: pub.kty, x: pub.x, y: pub.y });
    expect(createHash('sha256').update(thumbprintInput).digest('base64url')).toBe(pub.kid);
    expect(JSON.parse(w.header)).toEqual({ alg, kid: pub.kid, typ: STATUS_LIST_TYP });
  });

  it('the signing input is base64url(header) "." the same claims as the EdDSA vector', () => {
    expect(h).toBe(Buffer.from(w.header).toString('base64url'));
    expect(c).toBe(v.jws.split('.')[1]);
    expect(Buffer.from(c, 'base64url').toString()).toBe(v.claims);
  });

  it('the JWS verifies with the public JWK, and not after a change to its claims or its signature', () => {
    expect(verifyJwsWithKeySet(w.jws, set, [alg])).not.toHaveProperty('problem');
    const tampered = Buffer.from(JSON.stringify({ ...docClaims, ver: 4 })).toString('base64url');
    expect(verifyJwsWithKeySet(`${h}.${tampered}.${s}`, set, [alg])).toHaveProperty('problem');
    const sig = Buffer.from(s, 'base64url');
    sig[10] ^= 1;
    expect(verifyJwsWithKeySet(`${h}.${c}.${sig.toString('base64url')}`, set, [alg])).toHaveProperty('problem');
  });

  it("a JWS the gateway's KeyStore signs with the private key over the same claims verifies with the public JWK", () => {
    const jwk = JSON.parse(w['private JWK (TEST ONLY)']) as Sm2PrivateJwk & { kty: string };
    const signer =
      alg === 'SM2SM3'
        ? (data: Buffer) => Sm2SigningKey.fromJwk(jwk).sign(data)
        : (data: Buffer) => sign('sha256', data, { key: createPrivateKey({ key: jwk as unknown as JsonWebKeyInput['key'], format: 'jwk' }), dsaEncoding: 'ieee-p1363' });
    const store = { activeKid: () => pub.kid, algOf: () => alg, sign: (_kid: string, data: Buffer) => signer(data) };
    const jws = KeyStore.prototype.signJws.call(store as unknown as KeyStore, STATUS_LIST_TYP, docClaims);
    expect(jws.split('.').slice(0, 2)).toEqual([h, c]);
    expect(verifyJwsWithKeySet(jws, set, [alg])).not.toHaveProperty('problem');
  });

  if (alg === 'SM2SM3')
    it('e and the signature with the given k are reproduced exactly', () => {
      const key = Sm2PublicKey.fromJwk(pub);
      const input = Buffer.from(`${h}.${c}`, 'ascii');
      expect(Buffer.from(sm2MessageDigest(key.za, input)).toString('hex')).toBe(w['e (hex)']);
      const d = Buffer.from((JSON.parse(w['private JWK (TEST ONLY)']) as { d: string }).d, 'base64url');
      const sig = sm2SignWithNonce(d, key.za, input, Buffer.from(w['k (hex, TEST ONLY)'], 'hex'));
      expect(sig.toString('hex')).toBe(w['signature r s (hex)']);
      expect(sig.toString('base64url')).toBe(s);
    });
});
