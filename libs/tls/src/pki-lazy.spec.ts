// A running gateway never issues certificates: @peculiar/x509 (~14 MiB of RSS) must not be loaded
// by importing the library, only by the first certificate made (tongban tls, tests).
describe('the certificate generator is loaded lazily', () => {
  it('importing @tongban/tls does not load @peculiar/x509; making a CA does', async () => {
    let loads = 0;
    jest.isolateModules(() => {
      jest.doMock('@peculiar/x509', () => {
        loads++;
        return jest.requireActual<typeof import('@peculiar/x509')>('@peculiar/x509');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('./index');
    });
    expect(loads).toBe(0);
    let pki: typeof import('./pki') | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      pki = require('./pki') as typeof import('./pki');
    });
    await pki!.createCertificateAuthority({ name: 'Lazy test CA', days: 1 }, undefined);
    expect(loads).toBe(1);
  });
});
