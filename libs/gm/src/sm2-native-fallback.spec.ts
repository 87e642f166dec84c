// When the tongban-sm2 addon did not build, SM2 still works through OpenSSL, says so, and
// TONGBAN_SM2_NATIVE=required refuses. The package is replaced here by what its index.js exports
// when build/Release/tongban_sm2.node is missing (sm2: null and the load error); the SM2 code under
// test is the real one, loaded afresh in isolation.
type Gm = typeof import('.');

function loadGmWithout(addonError: string): Gm {
  let gm: Gm | undefined;
  jest.isolateModules(() => {
    jest.doMock('tongban-sm2', () => ({ sm2: null, loadError: new Error(addonError) }));
    gm = jest.requireActual<Gm>('.');
  });
  jest.dontMock('tongban-sm2');
  return gm!;
}

describe('SM2 without the addon', () => {
  const gm = loadGmWithout("Cannot find module './build/Release/tongban_sm2.node'\nRequire stack:\n- index.js");

  it('uses OpenSSL, and the known answer and a signature check still hold', () => {
    expect(gm.sm2Implementation()).toBe('openssl');
    expect(gm.sm2NativeAddon()).toBeNull();
    expect(() => gm.sm2SelfTest()).not.toThrow();
    const x = Buffer.from('09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020', 'hex');
    const y = Buffer.from('ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13', 'hex');
    const sig = Buffer.from('f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa', 'hex');
    const key = gm.Sm2PublicKey.fromPoint({ x, y });
    expect(gm.sm2Verify(key, Buffer.from('message digest'), sig)).toBe(true);
    expect(gm.sm2Verify(key, Buffer.from('message digesT'), sig)).toBe(false);
  });

  it('TONGBAN_SM2_NATIVE=required refuses by name, with the first line of the load error', () => {
    expect(() => gm.setSm2NativeMode('required')).toThrow(expect.objectContaining({ code: 'SM2_NATIVE_UNAVAILABLE' }));
    expect(() => gm.setSm2NativeMode('required')).toThrow(/did not load \(Cannot find module '\.\/build\/Release\/tongban_sm2\.node'\)/);
    expect(() => gm.setSm2NativeMode('off')).not.toThrow();
    expect(gm.sm2Implementation()).toBe('openssl');
  });
});
