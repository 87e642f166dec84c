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

/** A library feed in the stand-in's shape (docs/licence-library.md §5), served over real HTTP. */
class Feed {
  readonly changes: Record<string, string | number>[] = [];
  server: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (req.headers.authorization !== `Bearer ${TOKEN}` || u.pathname !== '/dzzz/v1/changes') {
        res.writeHead(401).end();
        return;
      }
      const after = Number(u.searchParams.get('cursor') || '0');
      const page = this.changes.slice(after, after + Number(u.searchParams.get('limit')));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 0, data: { changes: page, nextCursor: String(after + page.length) } }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  add(l: LicenceRecord, zzzt: string, bgyy: string): void {
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
    feed.changes.length = 0;
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
    const cursor = async () => (await ds.getRepository(LibraryFeedCursorEntity).findOneByOrFail({ id: LIBRARY_FEED_CURSOR_ID })) as { cursor: string; applied: number };
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
});
