import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLibraryMapping, mapLibraryChange, mapLibraryRecord, pick } from '@tongban/licences';
import { StandInStore } from './stand-in-store';

const ROOT = join(__dirname, '..', '..', '..');
const SEED = join(ROOT, 'deploy', 'demo', 'licences-130000.json');
const mapping = loadLibraryMapping(join(ROOT, 'deploy', 'licence-library', 'stand-in-mapping.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the demo data as Tongban imports it
const demo = require(SEED) as { licenceId: string; typeCode: string; number: string; status: string }[];

describe('stand-in licence library store', () => {
  it('serves every demo licence under its own names, and the shipped mapping brings each back unchanged', () => {
    const store = new StandInStore(SEED, null);
    for (const l of demo) {
      const zz = store.get(l.licenceId)!;
      expect(Object.keys(zz)).toContain('ZZBS');
      expect(mapLibraryRecord(zz, mapping)).toEqual({ ...l, validUntil: (l as { validUntil?: string | null }).validUntil ?? null });
      expect(store.findByNumber(l.typeCode, l.number)).toBe(zz);
    }
  });

  it('records status changes in an ordered feed that pages by cursor and survives a restart (state file)', () => {
    const state = join(mkdtempSync(join(tmpdir(), 'stand-in-')), 'state.json');
    const store = new StandInStore(SEED, state);
    const [a, b] = demo.filter((l) => l.status === 'VALID');
    expect(store.setStatus(a.licenceId, '中止', '年检未过')).toMatchObject({ XH: 1 });
    expect(store.setStatus(a.licenceId, '中止', '年检未过')).toBeNull();
    store.setStatus(b.licenceId, '吊销', '违法经营');
    store.setStatus(a.licenceId, '有效', '恢复');
    expect(() => store.setStatus(b.licenceId, '有效', '恢复')).toThrow('a revoked licence stays revoked');
    expect(() => store.setStatus(a.licenceId, '注销', 'x')).toThrow('ZZZT must be one of');

    const first = store.changesAfter('', 2);
    expect(first.nextCursor).toBe('2');
    const rest = store.changesAfter(first.nextCursor, 100);
    expect(rest).toMatchObject({ nextCursor: '3', changes: [{ XH: 3, ZZZT: '有效' }] });
    expect(store.changesAfter('3', 100)).toEqual({ changes: [], nextCursor: '3' });
    expect(() => store.changesAfter('9', 1)).toThrow('ahead');
    const answer = { code: 0, data: first };
    expect((pick(answer, mapping.feed!.changes) as unknown[]).map((c) => mapLibraryChange(c, mapping))).toMatchObject([
      { licenceId: a.licenceId, status: 'SUSPENDED', reason: '年检未过' },
      { licenceId: b.licenceId, status: 'REVOKED', reason: '违法经营' },
    ]);

    const restarted = new StandInStore(SEED, state);
    expect(restarted.get(b.licenceId)!.ZZZT).toBe('吊销');
    expect(restarted.changesAfter('', 100).changes).toHaveLength(3);
  });

  it('lists every licence page by page in a stable order, with the feed position the listing reflects', () => {
    const store = new StandInStore(SEED, null);
    store.setStatus(demo[0].licenceId, '中止', '年检未过');
    const pages: string[][] = [];
    let cursor = '';
    do {
      const page = store.list(cursor, 5);
      expect(page.feedCursor).toBe('1');
      pages.push(page.records.map((r) => r.ZZBS));
      cursor = page.nextCursor;
    } while (cursor !== '');
    expect(pages.map((p) => p.length)).toEqual([5, 5, 2]);
    expect(pages.flat()).toEqual(demo.map((l) => l.licenceId));
    expect(store.list('', 1).records[0].ZZZT).toBe('中止');
    expect(() => store.list('x', 1)).toThrow('cursor must be empty');
  });
});
