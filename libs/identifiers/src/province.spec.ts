import { provinceCodeOf } from './province';

describe('provinceCodeOf', () => {
  it.each([
    ['110105', '110000'],
    ['130102', '130000'],
    ['440106', '440000'],
    ['440000', '440000'],
  ])('maps %s to %s', (region, province) => {
    expect(provinceCodeOf(region)).toBe(province);
  });

  it.each(['', '11010', '1101055', '11O105', ' 11010'])('rejects %p', (region) => {
    expect(() => provinceCodeOf(region)).toThrow(expect.objectContaining({ rule: 'GBT2260_REGION_CODE' }));
  });
});
