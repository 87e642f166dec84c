import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadGatewayConfig } from '@tongban/config';
import { generateAnchorKey } from './directory-signer';

// The directory settings of libs/config (TONGBAN_DIRECTORY_*), checked once at boot.
const BASE = { TONGBAN_CODE: '130000' };
const anchor = generateAnchorKey();

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadGatewayConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('directory settings', () => {
  it('are off by default, with the documented defaults', () => {
    expect(loadGatewayConfig(BASE).directory).toBeNull();
  });

  it('take an SM2 (国密) anchor key, and a rollover from Ed25519 to SM2; never its private JWK', () => {
    const sm2 = generateAnchorKey('SM2SM3');
    expect(loadGatewayConfig({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(sm2.publicJwk), TONGBAN_DIRECTORY_SOURCE: 'd.jws' }).directory?.anchorJwk).toEqual(sm2.publicJwk);
    const set = { keys: [anchor.publicJwk, sm2.publicJwk] };
    expect(loadGatewayConfig({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(set), TONGBAN_DIRECTORY_SOURCE: 'd.jws' }).directory?.anchorJwk).toEqual(set);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(sm2.privateJwk), TONGBAN_DIRECTORY_SOURCE: 'd.jws' })).toMatch(/private key/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify({ ...sm2.publicJwk, crv: 'P-256' }), TONGBAN_DIRECTORY_SOURCE: 'd.jws' })).toMatch(/Ed25519 public JWK .* or an SM2 one/);
  });

  it('take a JWK Set of up to three anchor keys during an anchor rollover, never a private one', () => {
    const next = generateAnchorKey();
    const set = { keys: [anchor.publicJwk, next.publicJwk] };
    expect(loadGatewayConfig({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(set), TONGBAN_DIRECTORY_SOURCE: 'd.jws' }).directory?.anchorJwk).toEqual(set);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify({ keys: [anchor.publicJwk, next.privateJwk] }), TONGBAN_DIRECTORY_SOURCE: 'd.jws' })).toMatch(/private key/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify({ keys: [] }), TONGBAN_DIRECTORY_SOURCE: 'd.jws' })).toMatch(/JWK Set .*1 to 3/);
  });

  it('take the anchor from a file or inline JSON, and a file path or URL as the source', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tongban-dir-config-'));
    writeFileSync(join(dir, 'anchor.pub.jwk'), JSON.stringify(anchor.publicJwk));
    const fromFile = loadGatewayConfig({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: join(dir, 'anchor.pub.jwk'), TONGBAN_DIRECTORY_SOURCE: 'rel/directory.jws' }).directory;
    expect(fromFile).toEqual({ anchorJwk: anchor.publicJwk, source: join(process.cwd(), 'rel/directory.jws'), refreshSeconds: 300, graceSeconds: 604800 });
    const inline = loadGatewayConfig({
      ...BASE,
      TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(anchor.publicJwk),
      TONGBAN_DIRECTORY_SOURCE: 'https://dir.example.cn/directory.jws',
      TONGBAN_DIRECTORY_REFRESH_S: '60',
      TONGBAN_DIRECTORY_GRACE_S: '0',
    }).directory;
    expect(inline).toMatchObject({ source: 'https://dir.example.cn/directory.jws', refreshSeconds: 60, graceSeconds: 0 });
  });

  it('stop boot with a message naming the setting when half set, private, not Ed25519 or unreadable', () => {
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(anchor.publicJwk) })).toMatch(/^TONGBAN_DIRECTORY_SOURCE .*required when TONGBAN_DIRECTORY_ANCHOR/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_SOURCE: '/x.jws' })).toMatch(/^TONGBAN_DIRECTORY_ANCHOR .*required/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: JSON.stringify(anchor.privateJwk), TONGBAN_DIRECTORY_SOURCE: '/x.jws' })).toMatch(/^TONGBAN_DIRECTORY_ANCHOR .*private key/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: '{"kty":"EC","crv":"P-256","x":"a","y":"b"}', TONGBAN_DIRECTORY_SOURCE: '/x.jws' })).toMatch(/Ed25519 public JWK/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_ANCHOR: '/no/such/anchor.jwk', TONGBAN_DIRECTORY_SOURCE: '/x.jws' })).toMatch(/^TONGBAN_DIRECTORY_ANCHOR .*ENOENT/);
    expect(configError({ ...BASE, TONGBAN_DIRECTORY_REFRESH_S: '0' })).toMatch(/^TONGBAN_DIRECTORY_REFRESH_S/);
  });
});
