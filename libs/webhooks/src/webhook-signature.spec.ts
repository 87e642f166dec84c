import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { subscribes } from './webhook-recorder.service';
import { signWebhook, verifyWebhook } from './webhook-signature';

describe('webhook signature', () => {
  it('is t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>', () => {
    const body = '{"type":"STEP_ASSIGNED"}';
    const expected = createHmac('sha256', 'a-secret-of-16-chars').update(`1700000000.${body}`).digest('hex');
    expect(signWebhook('a-secret-of-16-chars', 1700000000, body)).toBe(`t=1700000000,v1=${expected}`);
  });

  it('verifies what it signs, and nothing else (other secret, body, time or a mangled header)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 16, maxLength: 64 }), fc.string(), fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }), fc.string(), (secret, body, t, junk) => {
        const header = signWebhook(secret, t, body);
        expect(verifyWebhook(secret, header, body, t)).toBe(true);
        expect(verifyWebhook(secret + 'x', header, body, t)).toBe(false);
        expect(verifyWebhook(secret, header, body + 'x', t)).toBe(false);
        expect(verifyWebhook(secret, header, body, t + 301)).toBe(false);
        expect(verifyWebhook(secret, junk, body, t)).toBe(junk === header);
      }),
    );
  });
});

describe('event filters', () => {
  it.each([
    [['*'], 'CASE_OPENED', true],
    [['STEP_ASSIGNED'], 'STEP_ASSIGNED', true],
    [['STEP_ASSIGNED'], 'STEP_ACCEPTED', false],
    [['STEP_*'], 'STEP_ACCEPTED', true],
    [['STEP_*'], 'CASE_COMPLETED', false],
    [['CASE_OPENED', 'POSTAL_*'], 'POSTAL_RESULT_SENT', true],
  ])('%j takes %s: %s', (events, type, expected) => {
    expect(subscribes(events, type)).toBe(expected);
  });
});
