import { createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PublicJwkMembers, verifyJwsWithKeySet } from '@tongban/gm';
import { KeyStore } from '@tongban/keys';
import { StatusEntry, decompressBase64url } from './bitstring';
import { STATUS_LIST_TYP, StatusListClaims, encodeStatusListContent, statusListClaims } from './status-list-claims';
import { decodeStatusList, listedEntry } from './status-list-reader';

// docs/protocol-status.md §5 is a test vector: its inputs are read from the document, the list is
// built and signed with the gateway's own code, and what the document says comes out must come out.
const DOC = readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'protocol-status.md'), 'utf8');
const section = DOC.slice(DOC.indexOf('## 5. Test vector'));
const v: Record<string, string> = {};
for (const block of section.match(/```[^\n]*\n[\s\S]*?```/g) ?? [])
  for (const line of block.split('\n')) {
    const m = /^([A-Za-z_ ()=,-]+?):\s+(.+)$/.exec(line.trim());
    if (m) v[m[1]] = m[2].trim();
  }

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
