import fc from 'fast-check';
import { CaseEntity } from '@tongban/cases';
import { cleanFileName, recipients } from './material.service';

describe('cleanFileName (x-file-name from the caller)', () => {
  it('decodes percent-encoded UTF-8 and keeps only the last path segment', () => {
    expect(cleanFileName(encodeURIComponent('身份证 扫描件.pdf'))).toBe('身份证 扫描件.pdf');
    expect(cleanFileName('../../etc/passwd')).toBe('passwd');
    expect(cleanFileName('C:\\Users\\a\\b.png')).toBe('b.png');
    expect(cleanFileName('100%.pdf')).toBe('100%.pdf');
    expect(cleanFileName('a"\r\nx.pdf')).toBe('ax.pdf');
    expect(cleanFileName('..')).toBeUndefined();
    expect(cleanFileName('')).toBeUndefined();
    expect(cleanFileName(undefined)).toBeUndefined();
  });

  it('never yields a path, a control character, a quote or more than 150 characters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (raw) => {
        const name = cleanFileName(raw);
        if (name === undefined) return;
        expect(name.length).toBeGreaterThan(0);
        expect(name.length).toBeLessThanOrEqual(150);
        // eslint-disable-next-line no-control-regex -- no control character may survive: that is the property
        expect(name).not.toMatch(/[\\/\u0000-\u001f\u007f"]/);
        expect(['.', '..']).not.toContain(name);
      }),
    );
  });
});

describe('recipients', () => {
  it('are the other participants performing a step that needs materials', () => {
    const step = (role: string, needsMaterials: boolean) => ({ role, needsMaterials }) as CaseEntity['item']['steps'][number];
    const c = {
      participants: { RECEIVING: '440000', HOME: '110000', OTHER: '130000' },
      item: { steps: [step('RECEIVING', true), step('HOME', true), step('OTHER', false), step('RECEIVING', false)] },
    } as unknown as CaseEntity;
    expect(recipients(c, '440000')).toEqual(['110000']);
    expect(recipients(c, '110000')).toEqual(['440000']);
  });
});
