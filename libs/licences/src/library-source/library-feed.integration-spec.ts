import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { AuditCheckpointEntity, AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { SigningKeyEntity } from '@tongban/keys';
import { DatabaseTarget, buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { LicenceRecord } from '../licence-record';
import { LicenceStatusChange, LicenceStatusService } from '../licence-status';
import { LicenceStatusEntity } from '../licence-status.entity';
import { LicenceEntity } from '../licence.entity';
import { LIBRARY_FEED_CURSOR_ID, LibraryFeedCursorEntity } from './library-feed-cursor.entity';
import { LibraryFeedWorker } from './library-feed.worker';
import { LibrarySource } from './library-source';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..', '..', '..');
const DEMO = JSON.parse(readFileSync(join(ROOT, 'deploy', 'demo', 'licences-130000.json'), 'utf8')) as LicenceRecord[];
const [A, B] = DEMO.filter((r) => r.status === 'VALID');
const TOKEN = 'feed-reader-token-0123456789';
const ENTITIES = [LicenceEntity, LicenceStatusEntity, AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity, LibraryFeedCursorEntity];

const ZZZT: Record<string, string> = { VALID: '有效', SUSPENDED: '中止', REVOKED: '吊销' };

/**
 * A library in the stand-in's shape (docs/licence-library.md §5), served over real HTTP: its change
 * feed, and its full listing (the DEMO licences with their current statuses, in a stable order).
 */
class Feed {
  readonly changes: Record<string, string | number>[] = [];
  readonly statuses = new Map<string, string>();
  /** Called after a page of the listing is served (a change made while a gateway reads the listing). */
  afterListPage: ((page: number) => void) | null = null;
  private listPages = 0;
  server: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      const after = Number(u.searchParams.get('cursor') || '0');
      const limit = Number(u.searchParams.get('limit'));
      let data: unknown;
      if (req.headers.authorization !== `Bearer ${TOKEN}`) data = undefined;
      else if (u.pathname === '/dzzz/v1/changes') {
        const page = this.changes.slice(after, after + limit);
        data = { changes: page, nextCursor: String(after + page.length) };
      } else if (u.pathname === '/dzzz/v1/zzqd') {
        const records = DEMO.slice(after, after + limit).map((l) => ({ ZZBS: l.licenceId, ZZLXDM: l.typeCode, ZZZT: this.statuses.get(l.licenceId) }));
        data = { records, nextCursor: after + records.length < DEMO.length ? String(after + records.length) : '', feedCursor: String(this.changes.length) };
        this.afterListPage?.(++this.listPages);
      }
      if (data === undefined) res.writeHead(401).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 0, data }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.changes.length = 0;
    for (const l of DEMO) this.statuses.set(l.licenceId, ZZZT[l.status]);
    this.afterListPage = null;
    this.listPages = 0;
  }

  add(l: LicenceRecord, zzzt: string, bgyy: string): void {
    this.statuses.set(l.licenceId, zzzt);
    this.changes.push({ XH: this.changes.length + 1, ZZBS: l.licenceId, ZZLXDM: l.typeCode, ZZZT: zzzt, BGSJ: new Date(Date.UTC(2026, 11, 3, 1, this.changes.length)).toISOString(), BGYY: bgyy });
  }
}

describeEachDatabase('LibraryFeedWorker (cursor persisted with each change)', (fresh) => {
  const feed = new Feed();
  let target: DatabaseTarget;
  const open: DataSource[] = [];

  beforeAll(() => feed.start());
  afterAll(() => new Promise((r) => feed.server.close(r)));
  beforeEach(() => {
    feed.reset();
    target = fresh();
  });
  afterEach(async () => {
    for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
  });

  /** A gateway process's worth: its own DataSource on the shared database, status service and feed worker (batch 2). */
  async function gateway() {
    const ds = await openDatabase(buildDataSource(target, ENTITIES));
    open.push(ds);
    const clock = new (class extends Clock {
      now = () => new Date();
    })();
    const statuses = new LicenceStatusService(ds, clock, new AuditLog(ds, clock));
    const source = new LibrarySource({
      baseUrl: feed.url,
      auth: { header: 'authorization', value: `Bearer ${TOKEN}` },
      mappingFile: join(ROOT, 'deploy', 'licence-library', 'stand-in-mapping.json'),
      timeoutMs: 2000,
      breaker: { failures: 5, openMs: 1000 },
      cache: { ttlMs: 0, maxEntries: 10 },
      feed: { pollMs: 0, batch: 2 },
    });
    const worker = new LibraryFeedWorker(source, statuses, ds);
    const cursor = async () => (await ds.getRepository(LibraryFeedCursorEntity).findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID })) as { cursor: string; applied: number; syncedAt: Date | null };
    return { ds, statuses, worker, cursor };
  }

  it('applies the feed in order through the status service, the cursor moving with each change; a restart resumes after it', async () => {
    const g = await gateway();
    const seen: LicenceStatusChange[] = [];
    g.statuses.register({ onLicenceStatusChange: async (c: LicenceStatusChange) => void seen.push(c) });
    feed.add(A, '中止', '年检未过');
    feed.add(B, '吊销', '违法经营');
    feed.add(A, '有效', '恢复营业');
    expect(await g.worker.poll()).toBe(2);
    expect(await g.cursor()).toMatchObject({ cursor: '2', applied: 2 });
    expect(await g.worker.poll()).toBe(1);
    expect(await g.worker.poll()).toBe(0);
    expect(seen.map((c) => [c.licenceId, c.status, c.version, c.source, c.actor, c.reason])).toEqual([
      [A.licenceId, 'SUSPENDED', 1, 'library', 'library-feed', '年检未过'],
      [B.licenceId, 'REVOKED', 1, 'library', 'library-feed', '违法经营'],
      [A.licenceId, 'VALID', 2, 'library', 'library-feed', '恢复营业'],
    ]);
    expect(seen[0].changedAt.toISOString()).toBe(feed.changes[0].BGSJ);

    // A new process on the same database: nothing is applied twice, new changes are.
    const restarted = await gateway();
    expect(await restarted.worker.poll()).toBe(0);
    feed.add(A, '中止', '再次中止');
    expect(await restarted.worker.poll()).toBe(1);
    expect(await restarted.statuses.current(A.licenceId)).toMatchObject({ status: 'SUSPENDED', version: 3 });
    expect(await restarted.cursor()).toMatchObject({ cursor: '4', applied: 4 });
  });

  it('a change whose transaction fails leaves the cursor where it was; the next poll applies it once', async () => {
    const g = await gateway();
    let fail = true;
    g.statuses.register({
      onLicenceStatusChange: async (c: LicenceStatusChange, _em: EntityManager) => {
        if (fail && c.licenceId === B.licenceId) throw new Error('listener failed');
      },
    });
    feed.add(A, '中止', 'one');
    feed.add(B, '中止', 'two');
    await expect(g.worker.poll()).rejects.toThrow('listener failed');
    expect(await g.cursor()).toMatchObject({ cursor: '1', applied: 1 });
    expect(await g.statuses.current(B.licenceId)).toBeNull();
    fail = false;
    expect(await g.worker.poll()).toBe(1);
    expect(await g.cursor()).toMatchObject({ cursor: '2', applied: 2 });
    expect(await g.statuses.current(B.licenceId)).toMatchObject({ status: 'SUSPENDED', version: 1 });
  });

  it('no-op and refused changes (already so; un-revoking) move the cursor and change nothing', async () => {
    const g = await gateway();
    feed.add(A, '有效', 'already valid');
    feed.add(B, '吊销', 'revoked');
    feed.add(B, '有效', 'not allowed');
    expect(await g.worker.poll()).toBe(2);
    expect(await g.worker.poll()).toBe(1);
    expect(await g.cursor()).toMatchObject({ cursor: '3' });
    expect(await g.statuses.current(A.licenceId)).toBeNull();
    expect(await g.statuses.current(B.licenceId)).toMatchObject({ status: 'REVOKED', version: 1 });
  });

  it('two replicas polling at once apply each change exactly once', async () => {
    const [g1, g2] = [await gateway(), await gateway()];
    feed.add(A, '中止', 'one');
    feed.add(A, '有效', 'two');
    await Promise.all([g1.worker.poll(), g2.worker.poll()]);
    await Promise.all([g1.worker.poll(), g2.worker.poll()]);
    expect(await g1.cursor()).toMatchObject({ cursor: '2', applied: 2 });
    expect(await g1.statuses.current(A.licenceId)).toMatchObject({ status: 'VALID', version: 2 });
  });

  describe('initial full synchronisation (the listing, then the feed from its position)', () => {
    const NON_VALID = DEMO.filter((l) => l.status !== 'VALID');
    const statusOf = async (g: Awaited<ReturnType<typeof gateway>>, l: LicenceRecord) => (await g.statuses.current(l.licenceId))?.status ?? 'VALID';

    it("a gateway that never synchronised takes the library's statuses from its listing (page by page), then follows the feed from the listing's position", async () => {
      feed.add(A, '中止', 'before this gateway existed'); // in the feed before the gateway's first start
      const g = await gateway();
      const seen: LicenceStatusChange[] = [];
      g.statuses.register({ onLicenceStatusChange: async (c: LicenceStatusChange) => void seen.push(c) });
      expect(await g.worker.fullSync.runIfNeeded()).toEqual({ listed: DEMO.length, changed: NON_VALID.length + 1, skipped: 0, feedCursor: '1' });
      for (const l of DEMO) expect(await statusOf(g, l)).toBe(l === A ? 'SUSPENDED' : l.status);
      expect(seen.every((c) => c.actor === 'library-sync' && c.source === 'library' && c.version === 1 && c.previous === 'VALID')).toBe(true);
      expect(await g.cursor()).toMatchObject({ cursor: '1', syncedAt: expect.any(Date) });

      // Done: not again (also not after a restart); the feed goes on from the listing's position.
      expect(await g.worker.fullSync.runIfNeeded()).toBeNull();
      expect(await (await gateway()).worker.fullSync.runIfNeeded()).toBeNull();
      expect(await g.worker.poll()).toBe(0);
      feed.add(B, '吊销', '违法经营');
      expect(await g.worker.poll()).toBe(1);
      expect(await g.statuses.current(B.licenceId)).toMatchObject({ status: 'REVOKED', version: 1 });
      expect(await g.cursor()).toMatchObject({ cursor: '2' });
    });

    it('a change made in the library while the listing is read (on a page already read) is applied by the feed afterwards, in order', async () => {
      const first = DEMO.slice(0, 2).find((l) => l.status === 'VALID')!;
      feed.afterListPage = (page) => {
        if (page === 1) feed.add(first, '中止', 'during the listing');
        if (page === 2) feed.add(first, '有效', 'reinstated, still during the listing');
        if (page === 3) feed.add(first, '中止', 'suspended again');
      };
      const g = await gateway();
      expect(await g.worker.fullSync.runIfNeeded()).toMatchObject({ changed: NON_VALID.length, feedCursor: '0' });
      expect(await statusOf(g, first)).toBe('VALID'); // the listing read it before the change
      expect(await g.worker.poll()).toBe(2);
      expect(await g.worker.poll()).toBe(1);
      expect(await g.statuses.current(first.licenceId)).toMatchObject({ status: 'SUSPENDED', version: 3 });
    });

    it('an empty (lost) cursor synchronises again: a status that drifted is corrected, a REVOKED one stays (refused, skipped)', async () => {
      const g = await gateway();
      await g.worker.fullSync.runIfNeeded();
      await g.statuses.change({ licenceId: A.licenceId, status: 'SUSPENDED', reason: 'drifted', source: 'library', actor: 'test' });
      await g.statuses.change({ licenceId: B.licenceId, status: 'REVOKED', reason: 'revoked here', source: 'library', actor: 'test' });
      await g.ds.getRepository(LibraryFeedCursorEntity).update({ id: LIBRARY_FEED_CURSOR_ID }, { cursor: '' });
      expect(await g.worker.fullSync.runIfNeeded()).toEqual({ listed: DEMO.length, changed: 1, skipped: 1, feedCursor: '0' });
      expect(await g.statuses.current(A.licenceId)).toMatchObject({ status: 'VALID', version: 2 });
      expect(await g.statuses.current(B.licenceId)).toMatchObject({ status: 'REVOKED', version: 1 });
      expect(await g.cursor()).toMatchObject({ cursor: '0' });
    });

    it('a listed record that does not fit the mapping is skipped (named by field, the rest applied); two replicas synchronising at once record each status once', async () => {
      const [g1, g2] = [await gateway(), await gateway()];
      const real = feed.statuses.get(A.licenceId)!;
      feed.statuses.set(A.licenceId, '注销'); // a value the mapping does not list: that record is skipped, the rest applied
      expect(await g1.worker.fullSync.runIfNeeded()).toMatchObject({ listed: DEMO.length - 1, skipped: 1 });
      feed.statuses.set(A.licenceId, real);
      await g1.ds.getRepository(LibraryFeedCursorEntity).update({ id: LIBRARY_FEED_CURSOR_ID }, { cursor: '', syncedAt: null });
      await g1.ds.getRepository(LicenceStatusEntity).clear();
      const results = await Promise.all([g1.worker.fullSync.runIfNeeded(), g2.worker.fullSync.runIfNeeded()]);
      expect(results[0]!.changed + results[1]!.changed).toBe(NON_VALID.length);
      for (const l of NON_VALID) expect(await g1.statuses.current(l.licenceId)).toMatchObject({ status: l.status, version: 1 });
      expect(await g1.cursor()).toMatchObject({ cursor: '0', syncedAt: expect.any(Date) });
    });
  });
});
