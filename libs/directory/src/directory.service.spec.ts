import { generateKeyPairSync } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { JWK } from 'jose';
import { AuditRecord } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { DirectoryApplier, DirectoryChanges, StoredDirectory } from './directory-applier';
import { DirectoryDocument, jwkThumbprint } from './directory-document';
import { DirectorySource } from './directory-source';
import { DirectoryOptions } from './directory.options';
import { DirectoryService } from './directory.service';
import { generateAnchorKey, signDirectory } from './directory-signer';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);
const GRACE_S = 7 * 24 * 3600;

class TestClock extends Clock {
  constructor(public t = T0) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
}

class FakeSource extends DirectorySource {
  readonly location = '/srv/directory.jws';
  content: string | Error = new Error('ENOENT');
  async read(): Promise<string> {
    if (this.content instanceof Error) throw this.content;
    return this.content;
  }
}

/** The applier's contract without a database: one stored row, changes recorded. */
class FakeApplier {
  stored: StoredDirectory = { serial: null, jws: null, appliedAt: null, notAfter: null };
  applied: DirectoryDocument[] = [];
  async load(): Promise<StoredDirectory> {
    return { ...this.stored };
  }
  async apply(doc: DirectoryDocument, jws: string, at: Date, stillNewer: (s: StoredDirectory) => Promise<boolean>): Promise<DirectoryChanges | null> {
    if (!(await stillNewer({ ...this.stored }))) return null;
    this.applied.push(doc);
    this.stored = { serial: doc.serial, jws, appliedAt: at, notAfter: new Date(doc.notAfter) };
    return { added: doc.participants.map((p) => p.code), updated: [], keysAdded: 1, keysChanged: 0, skipped: [], notListed: [] };
  }
}

const anchorPair = generateAnchorKey();
const bjJwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as JWK;

function doc(serial: number, notBefore: number, notAfter: number, endpoint = 'bj.example.cn:9011') {
  return {
    format: 'tongban-directory/1',
    serial,
    issuedAt: new Date(notBefore).toISOString(),
    notBefore: new Date(notBefore).toISOString(),
    notAfter: new Date(notAfter).toISOString(),
    participants: [{ code: '110000', name: '北京市', endpoint, status: 'ACTIVE', keys: [{ kid: jwkThumbprint(bjJwk), jwk: bjJwk, status: 'ACTIVE' }] }],
  };
}
const sign = async (d: object, key: Record<string, unknown> = anchorPair.privateJwk) => (await signDirectory(d, key)).jws;

function setup(options: Partial<Extract<DirectoryOptions, { enabled: true }>> = {}, applier = new FakeApplier()) {
  const clock = new TestClock();
  const source = new FakeSource();
  const audit: AuditRecord[] = [];
  const trust = { refreshes: 0, refresh: async () => void trust.refreshes++ };
  const keys = { activeKid: () => 'own-kid' };
  const opts: DirectoryOptions = { enabled: true, anchorJwk: anchorPair.publicJwk, source: source.location, refreshSeconds: 300, graceSeconds: GRACE_S, clockSkewSeconds: 60, ...options };
  const service = new DirectoryService(
    opts,
    source,
    applier as unknown as DirectoryApplier,
    trust as never,
    keys as never,
    { recordNow: async (r: AuditRecord) => void audit.push(r) } as never,
    clock,
    '130000',
  );
  return { service, clock, source, audit, trust, applier };
}

describe('DirectoryService', () => {
  const services: DirectoryService[] = [];
  beforeAll(() => {
    Logger.overrideLogger(false);
  });
  const started = async (s: ReturnType<typeof setup>) => {
    services.push(s.service);
    await s.service.onApplicationBootstrap();
    return s;
  };
  afterEach(async () => {
    for (const s of services.splice(0)) await s.onModuleDestroy();
  });

  it('is off unless configured: status off, nothing fetched', async () => {
    const source = new FakeSource();
    const service = new DirectoryService({ enabled: false }, source, new FakeApplier() as never, {} as never, {} as never, {} as never, new TestClock(), '130000');
    await service.onApplicationBootstrap();
    expect(service.status()).toEqual({ mode: 'off', serial: null, notAfter: null, graceUntil: null, lastError: null });
    expect(await service.refresh()).toEqual({ outcome: 'off' });
  });

  it('boots without a directory (source unreachable): degraded, refusal audited once, then applies when it appears', async () => {
    const s = await started(setup());
    expect(s.service.status()).toMatchObject({ mode: 'degraded', serial: null, lastError: { reason: 'UNREACHABLE', message: 'ENOENT' } });
    await s.service.refresh();
    expect(s.audit.filter((a) => a.event === 'directory.refused')).toHaveLength(1);
    expect(s.audit[0]).toMatchObject({ outcome: 'REFUSED', reason: 'UNREACHABLE' });

    s.source.content = await sign(doc(1, T0, T0 + 30 * DAY));
    expect(await s.service.refresh()).toMatchObject({ outcome: 'applied', serial: 1 });
    expect(s.service.status()).toEqual({ mode: 'ok', serial: 1, notAfter: new Date(T0 + 30 * DAY).toISOString(), graceUntil: new Date(T0 + 37 * DAY).toISOString(), lastError: null });
    expect(s.trust.refreshes).toBe(1);
    expect(s.audit.at(-1)).toMatchObject({ event: 'directory.applied', outcome: 'OK', subject: 'serial 1', details: { serial: 1, added: '110000' } });
    // The same file again changes nothing.
    expect(await s.service.refresh()).toEqual({ outcome: 'unchanged', serial: 1 });
    expect(s.applier.applied).toHaveLength(1);
  });

  it('refuses a directory signed by another key, a rollback and a bad file, keeping the current one', async () => {
    const s = setup();
    s.source.content = await sign(doc(5, T0, T0 + 30 * DAY));
    await started(s);
    for (const [content, reason] of [
      [await sign(doc(6, T0, T0 + 30 * DAY), generateAnchorKey().privateJwk), 'NOT_ANCHOR_KEY'],
      [await sign(doc(4, T0, T0 + 30 * DAY, 'attacker.example:1')), 'ROLLBACK'],
      ['{"not":"a jws"}', 'MALFORMED'],
      [await sign(doc(7, T0 + DAY, T0 + 30 * DAY)), 'NOT_YET_VALID'],
      [await sign(doc(8, T0 - 60 * DAY, T0 - 8 * DAY)), 'EXPIRED'],
    ] as const) {
      s.source.content = content;
      expect(await s.service.refresh()).toMatchObject({ outcome: 'refused', refusal: { reason } });
      expect(s.service.status()).toMatchObject({ mode: 'ok', serial: 5, lastError: { reason } });
      expect(s.audit.at(-1)).toMatchObject({ event: 'directory.refused', reason, details: { keeping: 5 } });
    }
    expect(s.applier.applied.map((d) => d.serial)).toEqual([5]);
    // A refusal is audited once per distinct document, not at every refresh.
    const count = s.audit.length;
    await s.service.refresh();
    expect(s.audit).toHaveLength(count);
  });

  it('past notAfter: degraded within the grace, expired after it, never dropped; a newer directory restores ok', async () => {
    const s = setup();
    s.source.content = await sign(doc(1, T0, T0 + DAY));
    await started(s);
    expect(s.service.status().mode).toBe('ok');
    s.clock.t = T0 + 2 * DAY;
    await s.service.refresh();
    expect(s.service.status()).toMatchObject({ mode: 'degraded', serial: 1, graceUntil: new Date(T0 + 8 * DAY).toISOString(), lastError: null });
    s.clock.t = T0 + 9 * DAY;
    s.source.content = new Error('ECONNREFUSED');
    await s.service.refresh();
    expect(s.service.status()).toMatchObject({ mode: 'expired', serial: 1, lastError: { reason: 'UNREACHABLE' } });
    expect(s.service.view()).toMatchObject({ serial: 1, participants: [{ code: '110000', endpoint: 'bj.example.cn:9011' }] });
    s.source.content = await sign(doc(2, s.clock.t, s.clock.t + 30 * DAY));
    expect(await s.service.refresh()).toMatchObject({ outcome: 'applied', serial: 2 });
    expect(s.service.status()).toMatchObject({ mode: 'ok', serial: 2, lastError: null });
  });

  it('applies a newer directory that is already past notAfter but within the grace (status degraded)', async () => {
    const s = setup();
    s.source.content = await sign(doc(1, T0 - 40 * DAY, T0 - DAY));
    await started(s);
    expect(s.applier.applied.map((d) => d.serial)).toEqual([1]);
    expect(s.service.status()).toMatchObject({ mode: 'degraded', serial: 1 });
  });

  it('after a restart serves from the stored copy while the source is unreachable', async () => {
    const first = setup();
    first.source.content = await sign(doc(3, T0, T0 + 30 * DAY));
    await started(first);
    const again = await started(setup({}, first.applier));
    expect(again.service.status()).toMatchObject({ mode: 'ok', serial: 3, lastError: { reason: 'UNREACHABLE' } });
    // Rollback protection survives the restart.
    again.source.content = await sign(doc(2, T0, T0 + 30 * DAY));
    expect(await again.service.refresh()).toMatchObject({ outcome: 'refused', refusal: { reason: 'ROLLBACK' } });
  });

  it('ignores a stored copy signed by another anchor (the anchor was replaced)', async () => {
    const applier = new FakeApplier();
    const old = generateAnchorKey();
    applier.stored = { serial: 9, jws: await sign(doc(9, T0, T0 + 30 * DAY), old.privateJwk), appliedAt: new Date(T0), notAfter: new Date(T0 + 30 * DAY) };
    const s = setup({}, applier);
    s.source.content = await sign(doc(1, T0, T0 + 30 * DAY));
    await started(s);
    expect(s.service.status()).toMatchObject({ mode: 'ok', serial: 1 });
  });

  it('picks up a directory another replica applied to the shared database', async () => {
    const a = setup();
    a.source.content = await sign(doc(1, T0, T0 + 30 * DAY));
    await started(a);
    const b = setup({}, a.applier);
    b.source.content = new Error('ETIMEDOUT');
    await started(b);
    a.source.content = await sign(doc(2, T0, T0 + 30 * DAY));
    await a.service.refresh();
    await b.service.refresh();
    expect(b.service.status()).toMatchObject({ serial: 2 });
    // b now fetches serial 1 (a stale mirror): a rollback for it too.
    b.source.content = await sign(doc(1, T0, T0 + 30 * DAY));
    expect(await b.service.refresh()).toMatchObject({ outcome: 'refused', refusal: { reason: 'ROLLBACK' } });
  });

  it('concurrent refreshes share one check', async () => {
    const s = setup();
    s.source.content = await sign(doc(1, T0, T0 + 30 * DAY));
    services.push(s.service);
    await s.service.onApplicationBootstrap();
    s.source.content = await sign(doc(2, T0, T0 + 30 * DAY));
    const [x, y] = await Promise.all([s.service.refresh(), s.service.refresh()]);
    expect(x).toBe(y);
    expect(s.applier.applied.map((d) => d.serial)).toEqual([1, 2]);
  });
});
