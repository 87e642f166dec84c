import { DomainException } from '@tongban/common';
import { Metrics } from './metrics.service';
import { MetricsHistory } from './metrics-history';

// The console's chart data from a real Metrics registry: points are counter differences per step,
// the p99 comes from the peer-call histogram, the ring keeps `capacity` points, the minute so far is partial.
describe('MetricsHistory', () => {
  it('turns counter readings into per-second rates, refusals by code, p99 and outbox depth', async () => {
    const metrics = new Metrics();
    let t = Date.parse('2026-12-03T09:00:00Z');
    let depth = 3;
    const history = new MetricsHistory(metrics, async () => depth, { now: () => t, capacity: 2 });
    await history.start();
    history.stop();
    for (let i = 0; i < 120; i++) metrics.verification('VALID');
    metrics.refusal('BAD_SIGNATURE');
    metrics.refusal('BAD_SIGNATURE');
    metrics.refusal('EXPIRED');
    for (let i = 0; i < 10; i++) await metrics.timePeerCall('VerifyLicences', '310000', async () => 'ok');
    await expect(metrics.timePeerCall('VerifyLicences', '310000', async () => Promise.reject(new DomainException('ISSUER_UNREACHABLE', 'down')))).rejects.toThrow('down');
    t += 60_000;
    depth = 5;
    await history.step();
    const [p] = await history.history(60);
    expect(p).toMatchObject({ at: '2026-12-03T09:00:00.000Z', seconds: 60, partial: false, verificationsPerS: 2, outboxDepth: 5 });
    expect(p.refusalsPerS).toEqual({ BAD_SIGNATURE: 0.033, EXPIRED: 0.017 });
    expect(p.p99LatencyMs).toBeGreaterThan(0);
    expect(metrics.peerCallOutcomes().get('310000')).toMatchObject({ lastFailureCode: 'ISSUER_UNREACHABLE' });
    // A quiet minute: zero rates, no latency; then the minute so far, partial.
    t += 60_000;
    await history.step();
    t += 30_000;
    metrics.verification('VALID');
    const points = await history.history(60);
    expect(points.map((x) => [x.partial, x.verificationsPerS, x.p99LatencyMs])).toEqual([
      [false, 2, p.p99LatencyMs],
      [false, 0, null],
      [true, 0.033, null],
    ]);
    // The ring keeps two whole points; older ones fall out, and `minutes` narrows the window.
    t += 30_000;
    await history.step();
    expect((await history.history(60)).filter((x) => !x.partial)).toHaveLength(2);
    expect((await history.history(1)).filter((x) => !x.partial)).toHaveLength(1);
  });
});
