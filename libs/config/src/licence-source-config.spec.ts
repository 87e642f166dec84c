import { ConfigError, loadGatewayConfig } from './gateway-config';
import { loadStandInLibraryConfig } from './stand-in-library-config';

const BASE = { TONGBAN_CODE: '130000' };
const LIBRARY = {
  ...BASE,
  TONGBAN_LICENCE_SOURCE: 'library',
  TONGBAN_LICENCE_LIBRARY_URL: 'http://127.0.0.1:8700/',
  TONGBAN_LICENCE_LIBRARY_TOKEN: 'library-token-0123456789',
  TONGBAN_LICENCE_LIBRARY_MAPPING_FILE: 'deploy/licence-library/stand-in-mapping.json',
};

function error(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('licence source settings', () => {
  it('defaults to the imported registry', () => {
    expect(loadGatewayConfig(BASE).licenceSource).toEqual({ kind: 'registry' });
  });

  it('reads the library settings with their defaults; Bearer for authorization, the bare key for another header', () => {
    const s = loadGatewayConfig(LIBRARY).licenceSource;
    expect(s).toMatchObject({
      kind: 'library',
      baseUrl: 'http://127.0.0.1:8700',
      auth: { header: 'authorization', value: 'Bearer library-token-0123456789' },
      timeoutMs: 1000,
      breaker: { failures: 5, openMs: 10_000 },
      cache: { ttlMs: 30_000, maxEntries: 10_000 },
      feed: { pollMs: 5000, batch: 100 },
    });
    expect(s.kind === 'library' && s.mappingFile.endsWith('deploy/licence-library/stand-in-mapping.json')).toBe(true);
    const key = loadGatewayConfig({ ...LIBRARY, TONGBAN_LICENCE_LIBRARY_AUTH_HEADER: 'X-Api-Key' }).licenceSource;
    expect(key).toMatchObject({ auth: { header: 'x-api-key', value: 'library-token-0123456789' } });
  });

  it.each([
    [{ TONGBAN_LICENCE_LIBRARY_URL: '' }, 'TONGBAN_LICENCE_LIBRARY_URL (licenceLibraryUrl): required when licenceSource is library'],
    [{ TONGBAN_LICENCE_LIBRARY_URL: 'ftp://x' }, 'TONGBAN_LICENCE_LIBRARY_URL (licenceLibraryUrl): must be an http:// or https:// URL'],
    [{ TONGBAN_LICENCE_LIBRARY_TOKEN: '' }, 'TONGBAN_LICENCE_LIBRARY_TOKEN (licenceLibraryToken): required'],
    [{ TONGBAN_LICENCE_LIBRARY_TOKEN: 'short' }, 'TONGBAN_LICENCE_LIBRARY_TOKEN (licenceLibraryToken): must be at least 16 characters'],
    [{ TONGBAN_LICENCE_LIBRARY_MAPPING_FILE: '' }, 'TONGBAN_LICENCE_LIBRARY_MAPPING_FILE (licenceLibraryMappingFile): required'],
    [{ TONGBAN_LICENCE_LIBRARY_TIMEOUT_MS: '2950' }, 'TONGBAN_LICENCE_LIBRARY_TIMEOUT_MS (licenceLibraryTimeoutMs): must be at least 100 ms below peerDeadlineMs (3000)'],
    [{ TONGBAN_LICENCE_LIBRARY_CACHE_TTL_S: '3601' }, 'TONGBAN_LICENCE_LIBRARY_CACHE_TTL_S (licenceLibraryCacheTtlS)'],
    [{ TONGBAN_LICENCE_SOURCE: 'copy' }, 'TONGBAN_LICENCE_SOURCE (licenceSource)'],
  ])('refuses %j, naming the setting', (env, message) => {
    expect(error(() => loadGatewayConfig({ ...LIBRARY, ...env }))).toContain(message);
  });

  it('the timeout follows a longer peer deadline', () => {
    expect(loadGatewayConfig({ ...LIBRARY, TONGBAN_PEER_DEADLINE_MS: '6000', TONGBAN_LICENCE_LIBRARY_TIMEOUT_MS: '5000' }).licenceSource).toMatchObject({ timeoutMs: 5000 });
  });
});

describe('stand-in library settings', () => {
  const ENV = { LICENCE_LIBRARY_TOKEN: 'reader-token-0123456789', LICENCE_LIBRARY_ADMIN_TOKEN: 'admin-token-0123456789', LICENCE_LIBRARY_SEED: 'deploy/demo/licences-130000.json' };

  it('reads its LICENCE_LIBRARY_* variables with defaults', () => {
    expect(loadStandInLibraryConfig(ENV)).toMatchObject({ host: '127.0.0.1', port: 8700, stateFile: null, testDelayMs: 0 });
    expect(loadStandInLibraryConfig({ ...ENV, LICENCE_LIBRARY_TEST_DELAY_MS: '5000', LICENCE_LIBRARY_PORT: '0' })).toMatchObject({ testDelayMs: 5000, port: 0 });
  });

  it.each([
    [{ LICENCE_LIBRARY_TOKEN: '' }, 'LICENCE_LIBRARY_TOKEN'],
    [{ LICENCE_LIBRARY_ADMIN_TOKEN: ENV.LICENCE_LIBRARY_TOKEN }, 'LICENCE_LIBRARY_ADMIN_TOKEN: must differ'],
    [{ LICENCE_LIBRARY_DELAY: '1' }, 'LICENCE_LIBRARY_DELAY: unknown setting'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(error(() => loadStandInLibraryConfig({ ...ENV, ...env }))).toContain(message);
  });
});
