import fc from 'fast-check';
import {
  CaseClosed,
  CaseEventNote,
  CaseOpened,
  DeliveryPayload,
  DeliveryReceiptPayload,
  Envelope,
  GetJwksPayload,
  JwksPayload,
  KeyAnnouncement,
  LicenceStatus,
  LicenceStatusChanged,
  LicenceSubscriptionCancelled,
  MatchResult,
  MaterialHeader,
  MaterialReceiptPayload,
  StepAssigned,
  StepOutcome,
  StepStatusChanged,
  VerifyLicencesPayload,
  VerifyLicencesResultPayload,
} from '@tongban/proto';

// Every generated codec that is fed bytes from a peer (envelope payloads, delivery bodies and the
// case and notice messages inside them). Hostile bytes must give either a message or an Error — never a hang,
// never a thrown non-Error (a string, undefined …) that would slip past `catch (e instanceof …)`.
// A decode that looped would never return and the test would fail on jest's timeout; no wall-clock
// budget is asserted here (it flaked under load and measured the machine, not the decoder).

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
}

const DECODERS: Record<string, Codec<unknown>> = {
  Envelope,
  VerifyLicencesPayload,
  VerifyLicencesResultPayload,
  GetJwksPayload,
  JwksPayload,
  DeliveryPayload,
  DeliveryReceiptPayload,
  MaterialHeader,
  MaterialReceiptPayload,
  KeyAnnouncement,
  LicenceStatusChanged,
  LicenceSubscriptionCancelled,
  CaseOpened,
  StepAssigned,
  StepOutcome,
  StepStatusChanged,
  CaseClosed,
  CaseEventNote,
};

function decodeOutcome(codec: Codec<unknown>, bytes: Uint8Array): 'ok' | 'error' {
  try {
    const m = codec.decode(bytes);
    expect(typeof m).toBe('object');
    return 'ok';
  } catch (e) {
    // Must be a real Error (RangeError "premature EOF", Error "cant skip wire type 7", …).
    expect(e).toBeInstanceOf(Error);
    return 'error';
  }
}

// Strings that survive UTF-8 (no lone surrogates); proto3 strings are UTF-8.
const str = (max = 40) => fc.string({ unit: 'grapheme', maxLength: max });
const u32 = fc.nat({ max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(String);
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(String);
const optStr = fc.option(str(), { nil: undefined });
const timestamp = fc.option(fc.record({ seconds: i64, nanos: fc.integer({ min: 0, max: 999_999_999 }) }), { nil: undefined });

const arbitraries = {
  VerifyLicencesPayload: fc.record({
    queries: fc.array(
      fc.record({
        queryId: str(),
        licenceType: str(),
        licenceNumber: str(),
        licenceId: str(),
        holder: fc.option(fc.record({ name: str(), idNumber: str(), creditCode: str() }), { nil: undefined }),
        purpose: str(),
        notifyRef: str(64),
      }),
      { maxLength: 5 },
    ),
  }),
  VerifyLicencesResultPayload: fc.record({
    results: fc.array(
      fc.record({
        queryId: str(),
        status: fc.constantFrom(...Object.values(LicenceStatus)),
        nameMatch: fc.constantFrom(...Object.values(MatchResult)),
        codeMatch: fc.constantFrom(...Object.values(MatchResult)),
        licence: fc.option(
          fc.record({
            licenceType: optStr,
            licenceName: optStr,
            licenceNumber: optStr,
            licenceId: optStr,
            holderName: optStr,
            issueDate: optStr,
            validFrom: optStr,
            validUntil: optStr,
            jurisdictionCode: optStr,
          }),
          { nil: undefined },
        ),
        issuer: fc.option(fc.record({ province: str(6), organName: str(), organCode: str(18) }), { nil: undefined }),
        checkedAt: timestamp,
        attestation: str(300),
        refusalCode: str(),
        subscription: fc.option(fc.record({ outcome: str(), expiresAt: timestamp }), { nil: undefined }),
      }),
      { maxLength: 4 },
    ),
  }),
  JwksPayload: fc.record({ jwksJson: str(300) }),
  DeliveryReceiptPayload: fc.record({ receipt: str(300) }),
  DeliveryPayload: fc.record({ messageId: str(64), stream: str(64), seq: u64, type: str(100), body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) }),
  LicenceStatusChanged: fc.record({
    licenceId: str(128),
    licenceType: str(21),
    status: fc.constantFrom(...Object.values(LicenceStatus)),
    previous: fc.constantFrom(...Object.values(LicenceStatus)),
    version: u64,
    changedAt: timestamp,
    reason: str(200),
  }),
  LicenceSubscriptionCancelled: fc.record({ notifyRef: str(64), licenceId: str(128) }),
  KeyAnnouncement: fc.record({ kid: str(), jwkJson: str(200), status: fc.constantFrom('ACTIVE', 'RETIRED', 'REVOKED', ''), effectiveAt: timestamp, reason: str() }),
  MaterialHeader: fc.record({ collaborationId: str(), materialId: str(), name: str(), mediaType: str(), size: u64, sha256: str(64) }),
  CaseOpened: fc.record({
    collaborationId: str(),
    itemCode: str(),
    itemVersion: str(),
    mode: str(),
    acceptingProvince: str(6),
    participants: fc.array(fc.record({ role: str(), province: str(6) }), { maxLength: 4 }),
    applicantName: str(),
    applicantIdNumber: str(18),
    steps: fc.array(fc.record({ index: u32, role: str(), province: str(6), action: str(), timeLimitWorkingDays: u32, status: str(), dueAt: timestamp, dueAtProvisional: fc.boolean() }), {
      maxLength: 4,
    }),
    openedAt: timestamp,
    receivedJson: str(200),
  }),
  StepAssigned: fc.record({
    collaborationId: str(),
    stepIndex: u32,
    role: str(),
    action: str(),
    dueAt: timestamp,
    dueAtProvisional: fc.boolean(),
    inputsJson: str(100),
    materialIds: fc.array(str(), { maxLength: 4 }),
  }),
  StepStatusChanged: fc.record({ collaborationId: str(), stepIndex: u32, status: str(), actor: str(), at: timestamp, reason: str() }),
  CaseEventNote: fc.record({ collaborationId: str(), type: str(), detailsJson: str(100), actor: str(), at: timestamp }),
  StepOutcome: fc.record({ collaborationId: str(), stepIndex: u32, outcome: str(), outputsJson: str(100), reason: str(), actor: str(), at: timestamp }),
  CaseClosed: fc.record({
    collaborationId: str(),
    state: str(),
    reason: str(),
    refusedStepIndex: u32,
    at: timestamp,
    actor: str(),
    steps: fc.array(fc.record({ index: u32, role: str(), province: str(6), action: str(), timeLimitWorkingDays: u32, status: str(), dueAt: timestamp, dueAtProvisional: fc.boolean() }), {
      maxLength: 3,
    }),
  }),
} as const;

/** Valid encodings, then damaged: truncated, a byte changed, bytes inserted — the likeliest attacks. */
const damaged = fc
  .tuple(fc.constantFrom(...(Object.keys(arbitraries) as (keyof typeof arbitraries)[])), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }))
  .chain(([name, a, b, noise]) =>
    (arbitraries[name] as fc.Arbitrary<unknown>).map((m) => {
      const bytes = Buffer.from(DECODERS[name].encode(m).finish());
      if (bytes.length === 0) return noise;
      const at = a % bytes.length;
      switch (b % 3) {
        case 0:
          return bytes.subarray(0, at);
        case 1:
          bytes[at] ^= noise[0] || 0x80;
          return bytes;
        default:
          return Buffer.concat([bytes.subarray(0, at), noise, bytes.subarray(at)]);
      }
    }),
  );

describe('generated payload decoders on hostile bytes', () => {
  it.each(Object.keys(DECODERS))('%s.decode: arbitrary bytes give a message or an Error, quickly', (name) => {
    const codec = DECODERS[name];
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        decodeOutcome(codec, bytes);
      }),
      { numRuns: 1500 },
    );
  });

  it.each(Object.keys(DECODERS))('%s.decode: damaged valid encodings of any payload give a message or an Error', (name) => {
    const codec = DECODERS[name];
    fc.assert(
      fc.property(damaged, (bytes) => {
        decodeOutcome(codec, bytes);
      }),
      { numRuns: 500 },
    );
  });

  it.each(Object.keys(DECODERS))('%s.decode: pathological inputs (huge lengths, deep groups, endless varints) end in an Error or a message', (name) => {
    const codec = DECODERS[name];
    const cases = [
      Buffer.from('ffffffff0f', 'hex'), // tag with wire type 7
      Buffer.from('0affffffff0f', 'hex'), // field 1, length 4 GiB
      Buffer.from('0a80808080808080808001', 'hex'), // length varint longer than 10 bytes
      Buffer.concat([Buffer.from('0a'), Buffer.alloc(20, 0xff)]), // varint that never ends
      Buffer.alloc(100_000, 0x0b), // 100 000 nested group starts (field 1, wire type 3)
      Buffer.concat([Buffer.alloc(50_000, 0x0b), Buffer.alloc(50_000, 0x0c)]), // balanced deep groups
      Buffer.from('0d000000', 'hex'), // fixed32 cut short
      Buffer.from('09000000000000', 'hex'), // fixed64 cut short
      Buffer.alloc(200_000, 0x08), // 100 000 varint fields
    ];
    for (const bytes of cases) decodeOutcome(codec, bytes);
    // Not vacuous: these are refused by every decoder.
    expect(decodeOutcome(codec, cases[0])).toBe('error');
    expect(decodeOutcome(codec, cases[1])).toBe('error');
    expect(decodeOutcome(codec, cases[4])).toBe('error');
  });
});

describe('generated payload codecs round-trip', () => {
  it.each(Object.keys(arbitraries) as (keyof typeof arbitraries)[])('%s: decode(encode(x)) equals x', (name) => {
    const codec = DECODERS[name];
    fc.assert(
      fc.property(arbitraries[name] as fc.Arbitrary<unknown>, (m) => {
        const back = codec.decode(codec.encode(m).finish());
        expect(normalise(back)).toEqual(normalise(m));
      }),
      { numRuns: 300 },
    );
  });

  it('the empty GetJwksPayload encodes to zero bytes and back', () => {
    expect(GetJwksPayload.encode({}).finish()).toHaveLength(0);
    expect(GetJwksPayload.decode(new Uint8Array(0))).toEqual({});
  });
});

describe('decoder leniencies a receiver should know about (pinned)', () => {
  it('invalid UTF-8 in a string field is replaced by U+FFFD, not refused (proto3 says parsers should refuse)', () => {
    // LicenceQuery{query_id = ff fe} inside VerifyLicencesPayload.queries
    const bytes = Buffer.from('0a040a02fffe', 'hex');
    expect(VerifyLicencesPayload.decode(bytes).queries[0].queryId).toBe('\ufffd\ufffd');
  });

  it('a zero tag or a stray end-group tag stops decoding; the bytes after it are ignored', () => {
    const honest = Buffer.from(DeliveryPayload.encode({ messageId: 'm1', stream: 's', seq: '1', type: 't', body: Buffer.alloc(0) }).finish());
    const trailing = Buffer.from('ffffffff0f', 'hex'); // would throw if it were read
    expect(DeliveryPayload.decode(Buffer.concat([honest, Buffer.from([0x00]), trailing])).messageId).toBe('m1');
    expect(DeliveryPayload.decode(Buffer.concat([honest, Buffer.from([0x0c]), trailing])).messageId).toBe('m1');
  });
});

/** Buffers compare as bytes. */
function normalise(v: unknown): unknown {
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}
