import { createHash } from 'node:crypto';
import { AuditChainRow, GENESIS_HASH, auditEntryHash } from './audit-chain';
import { verifyAuditChain } from './audit-chain.verifier';

const row = (seq: number, prevHash: string, hashAlg: string | null): AuditChainRow => {
  const r: AuditChainRow = {
    seq,
    at: 1767600000000 + seq,
    event: 'licences.read',
    actor: 'client:portal',
    subject: `s${seq}`,
    outcome: 'OK',
    reason: null,
    messageId: null,
    details: '{"read":1}',
    prevHash,
    hash: null,
    hashAlg,
  };
  r.hash = auditEntryHash(r);
  return r;
};

function chain(algs: (string | null)[]): AuditChainRow[] {
  const out: AuditChainRow[] = [];
  for (const alg of algs) out.push(row(out.length + 1, out.length ? out[out.length - 1].hash! : GENESIS_HASH, alg));
  return out;
}

describe('SM3 audit entries', () => {
  it('OpenSSL SM3 gives the GB/T 32905-2016 Appendix A examples', () => {
    expect(createHash('sm3').update('abc').digest('hex')).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
    expect(createHash('sm3').update('abcd'.repeat(16)).digest('hex')).toBe('debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732');
  });

  it('hashes an SM3 entry as SM3 of the canonical array with "SM3" appended (docs/audit.md §2)', () => {
    const r = row(1, GENESIS_HASH, 'SM3');
    const canonical = `[1,1767600000001,"licences.read","client:portal","s1","OK",null,null,"{\\"read\\":1}","${GENESIS_HASH}","SM3"]`;
    expect(r.hash).toBe(createHash('sm3').update(canonical, 'utf8').digest('hex'));
    expect(r.hash).toBe('4297513ba91cdb0dad599913a47285ac05c197b73decac8d0acd8133f76ee7df');
    // The same content as a SHA-256 entry has another hash: the algorithm is part of what is hashed.
    expect(row(1, GENESIS_HASH, null).hash).toBe(createHash('sha256').update(canonical.replace(',"SM3"]', ']'), 'utf8').digest('hex'));
  });

  it('verifies a chain that switches hash mid-way, both ways, and counts entries per hash', async () => {
    const rows = chain([null, null, 'SM3', 'SM3', 'SM3', null, 'SM3']);
    expect(await verifyAuditChain(rows, [])).toMatchObject({ ok: true, checked: 7, hashes: { 'SHA-256': 3, SM3: 4 } });
  });

  it.each([
    ['content of an SM3 entry', (r: AuditChainRow) => ({ ...r, subject: 'x' }), 'entry content does not match its hash (entry altered)'],
    ['an SM3 entry relabelled SHA-256', (r: AuditChainRow) => ({ ...r, hashAlg: null }), 'entry content does not match its hash (entry altered)'],
    [
      'an SM3 entry rehashed as SHA-256 (hash recomputed, chain not)',
      (r: AuditChainRow) => ({ ...r, hashAlg: null, hash: auditEntryHash({ ...r, hashAlg: null }) }),
      'prev_hash does not link to entry 4 (removed, inserted or altered entry)',
    ],
    ['an unknown hash_alg', (r: AuditChainRow) => ({ ...r, hashAlg: 'sm3' }), 'entry has an unknown hash_alg "sm3" (entry altered)'],
  ])('detects %s at that entry (or the next)', async (_, change, problem) => {
    const rows = chain([null, 'SM3', 'SM3', 'SM3', 'SM3']);
    rows[3] = change(rows[3]);
    const report = await verifyAuditChain(rows, []);
    expect(report.ok).toBe(false);
    expect(report.problem).toBe(problem);
  });
});
