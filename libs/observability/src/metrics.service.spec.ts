import { Logger } from '@nestjs/common';
import { DomainException } from '@tongban/common';
import { Metrics } from './metrics.service';

describe('Metrics', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  it('times peer calls and counts them as ok or by DomainException code (INTERNAL otherwise), rethrowing', async () => {
    const m = new Metrics();
    expect(await m.timePeerCall('VerifyLicences', '110000', async () => 'answer')).toBe('answer');
    await expect(m.timePeerCall('VerifyLicences', '110000', async () => Promise.reject(new DomainException('ISSUER_UNREACHABLE', 'down')))).rejects.toThrow('down');
    await expect(m.timePeerCall('Deliver', '130000', async () => Promise.reject(new Error('bug')))).rejects.toThrow('bug');
    const text = await m.render();
    expect(text).toContain('tongban_peer_calls_total{method="VerifyLicences",peer="110000",outcome="ok"} 1');
    expect(text).toContain('tongban_peer_calls_total{method="VerifyLicences",peer="110000",outcome="ISSUER_UNREACHABLE"} 1');
    expect(text).toContain('tongban_peer_calls_total{method="Deliver",peer="130000",outcome="INTERNAL"} 1');
    expect(text).toContain('tongban_peer_call_seconds_count{method="VerifyLicences",peer="110000"} 2');
  });

  it('counts refusals and verifications; keeps one registry per instance', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.refusal('UNKNOWN_KEY');
    a.verification('VALID');
    a.verification('VALID');
    const text = await a.render();
    expect(text).toContain('tongban_refusals_total{reason="UNKNOWN_KEY"} 1');
    expect(text).toContain('tongban_verifications_total{status="VALID"} 2');
    expect(await b.render()).not.toContain('tongban_verifications_total{status="VALID"}');
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('computes on-scrape gauges each time; a failing one is NaN (no labels) and counted, the scrape still succeeds', async () => {
    const m = new Metrics();
    let depth = 3;
    m.gaugeOnScrape('test_depth', 'depth', ['peer'], async () => [{ labels: { peer: '130000' }, value: depth }]);
    m.gaugeOnScrape('test_broken', 'broken', [], async () => Promise.reject(new Error('database is down')));
    expect(await m.render()).toContain('test_depth{peer="130000"} 3');
    depth = 0;
    const text = await m.render();
    expect(text).toContain('test_depth{peer="130000"} 0');
    expect(text).toMatch(/^test_broken nan$/im); // prom-client writes "Nan"; Prometheus parses it case-insensitively
    // Metrics render concurrently: the error of one scrape may show in the next one.
    expect(text).toMatch(/^tongban_scrape_errors_total\{gauge="test_broken"\} [12]$/m);
  });
});
