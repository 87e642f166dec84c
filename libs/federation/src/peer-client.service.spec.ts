import { Metadata, credentials } from '@grpc/grpc-js';
import { Envelope } from '@tongban/proto';
import { withoutCallerStack } from './caller-stack';
import { PeerClient } from './peer-client.service';

const ENVELOPE: Envelope = { jws: 'h.c.s', payload: Buffer.from('request') };

/** A PeerClient over stubs, its channel to 110000 replaced by `client` (the only grpc-js surface it uses). */
function peerClientWith(client: object) {
  const shared = credentials.createInsecure();
  const envelopes = {
    seal: () => ({ envelope: ENVELOPE, messageId: 'm-1' }),
    open: async () => ({ claims: {}, payload: Buffer.from('answer') }),
  };
  const trust = { peer: () => ({ status: 'ACTIVE', endpoint: '127.0.0.1:1' }) };
  const transport = { channelCredentials: () => shared, secure: false };
  const peers = new PeerClient(envelopes as never, trust as never, transport as never, { peerDeadlineMs: 1000 } as never);
  (peers as unknown as { clients: Map<string, unknown> }).clients.set('110000', { endpoint: '127.0.0.1:1', credentials: shared, client, inFlight: 0, retired: false });
  return peers;
}

describe('PeerClient: no caller stack captured per call', () => {
  it('starts the grpc-js call with Error.stackTraceLimit 0 and restores the limit (grpc-js builds an Error at every call start)', async () => {
    const before = Error.stackTraceLimit;
    const seen: number[] = [];
    const client = {
      verifyLicences(req: { envelope: Envelope }, md: Metadata, _opts: unknown, cb: (e: null, r: { envelope: Envelope }) => void) {
        seen.push(Error.stackTraceLimit);
        expect(md.get('x-correlation-id')).toEqual(['c-1']);
        setImmediate(() => cb(null, { envelope: req.envelope }));
      },
    };
    await expect(peerClientWith(client).call('110000', 'VerifyLicences', Buffer.from('q'), 'c-1')).resolves.toEqual(Buffer.from('answer'));
    expect(seen).toEqual([0]);
    expect(Error.stackTraceLimit).toBe(before);
  });

  it('restores the limit when starting the call throws', () => {
    const before = Error.stackTraceLimit;
    expect(() =>
      withoutCallerStack(() => {
        throw new Error('start failed');
      }),
    ).toThrow('start failed');
    expect(Error.stackTraceLimit).toBe(before);
    expect(withoutCallerStack(() => new Error('x').stack)).toBe('Error: x');
  });
});
