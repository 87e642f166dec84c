import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyDirectoryCommand } from './directory-cli';
import { generateAnchorKey, signDirectory } from './directory-signer';

// `tongban directory verify` during an anchor rollover (docs/operations.md §17.8): the anchor file is
// a JWK Set of the old and the new key, possibly of different algorithms, and the summary must name
// the key that signed, not merely the first configured one.
describe('directory verify with an anchor JWK Set (Ed25519 → SM2 rollover)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tongban-directory-cli-'));
  const old = generateAnchorKey('EdDSA');
  const next = generateAnchorKey('SM2SM3');
  const anchorSet = join(dir, 'anchor-set.json');
  writeFileSync(anchorSet, JSON.stringify({ keys: [old.publicJwk, next.publicJwk] }));
  const doc = (serial: number) => ({ format: 'tongban-directory/1', serial, participants: [] });

  it.each([
    ['the old Ed25519 key', old],
    ['the new SM2 key', next],
  ])('names %s as the signer', async (_, signer) => {
    const { jws } = await signDirectory(doc(7), signer.privateJwk, { validDays: 30 });
    const file = join(dir, `${signer.publicJwk.kid}.jws`);
    writeFileSync(file, jws);
    const out = await verifyDirectoryCommand(file, { anchor: anchorSet });
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain(`anchor        ${signer.publicJwk.kid} (one of 2 configured anchor keys)\n`);
  });

  it('with one anchor key, prints just its kid; a directory by another key is refused NOT_ANCHOR_KEY', async () => {
    const { jws } = await signDirectory(doc(8), next.privateJwk, { validDays: 30 });
    const file = join(dir, 'by-next.jws');
    writeFileSync(file, jws);
    const only = join(dir, 'next.pub.jwk');
    writeFileSync(only, JSON.stringify(next.publicJwk));
    expect((await verifyDirectoryCommand(file, { anchor: only })).stdout).toContain(`anchor        ${next.publicJwk.kid}\n`);
    const oldOnly = join(dir, 'old.pub.jwk');
    writeFileSync(oldOnly, JSON.stringify(old.publicJwk));
    await expect(verifyDirectoryCommand(file, { anchor: oldOnly })).rejects.toThrow(/NOT_ANCHOR_KEY/);
  });
});
