import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sm2Error, Sm2PublicKey, sm2Verify } from '.';

// The SM2 hostile-input corpus, test/fixtures/sm2/{ok,not-ok}/*.json: one file per attack on an SM2
// key or signature, each refused by its named code (docs/protocol.md §16.5) or, when well-formed,
// not verifying. The signature attacks use the key and signing input of the §16.6 test vector.

interface Fixture {
  name: string;
  description: string;
  jwk?: unknown;
  spkiHex?: string;
  message?: string;
  signatureHex?: string;
  expect: { code?: string; verified?: boolean };
}

const DIR = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'sm2');
const load = (kind: 'ok' | 'not-ok') =>
  readdirSync(join(DIR, kind))
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ file: f, fixture: JSON.parse(readFileSync(join(DIR, kind, f), 'utf8')) as Fixture }));

function outcome(f: Fixture): { code?: string; verified?: boolean } {
  try {
    const key = f.spkiHex !== undefined ? Sm2PublicKey.fromSpki(Buffer.from(f.spkiHex, 'hex')) : Sm2PublicKey.fromJwk(f.jwk);
    if (f.signatureHex === undefined) return { verified: undefined };
    return { verified: sm2Verify(key, Buffer.from(f.message ?? '', 'utf8'), Buffer.from(f.signatureHex, 'hex')) };
  } catch (e) {
    if (e instanceof Sm2Error) return { code: e.code };
    throw e;
  }
}

describe('SM2 hostile-input corpus (test/fixtures/sm2)', () => {
  const ok = load('ok');
  const notOk = load('not-ok');

  it('has both halves, each file named after its fixture and expecting exactly one outcome', () => {
    expect(ok.length).toBeGreaterThanOrEqual(3);
    expect(notOk.length).toBeGreaterThanOrEqual(20);
    for (const { file, fixture } of [...ok, ...notOk]) {
      expect(file).toBe(`${fixture.name}.json`);
      expect(fixture.description.length).toBeGreaterThan(10);
      expect(Object.keys(fixture.expect)).toHaveLength(1);
    }
  });

  it.each(ok.map(({ fixture }) => [fixture.name, fixture] as const))('ok/%s verifies', (_name, fixture) => {
    expect(outcome(fixture)).toEqual({ verified: true });
  });

  it.each(notOk.map(({ fixture }) => [fixture.name, fixture] as const))('not-ok/%s', (_name, fixture) => {
    expect(fixture.expect.verified).not.toBe(true);
    expect(outcome(fixture)).toEqual(fixture.expect);
  });

  it('every not-ok signature attack is on the key and input of a signature that verifies (the attack is the only change)', () => {
    const vector = ok.find((o) => o.fixture.name === 'protocol-vector')!.fixture;
    for (const { fixture } of notOk.filter((n) => n.fixture.signatureHex !== undefined)) {
      expect(outcome({ ...fixture, message: vector.message, signatureHex: vector.signatureHex })).toEqual({ verified: true });
    }
  });
});
