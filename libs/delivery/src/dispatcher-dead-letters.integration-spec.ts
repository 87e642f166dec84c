import { Clock, DomainException, SystemClock } from '@tongban/common';
import { digest, PeerClient, SignedTokenVerifier } from '@tongban/federation';
import { Metrics } from '@tongban/observability';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { DeliveryPayload, DeliveryReceiptPayload } from '@tongban/proto';
import { describeEachDatabase } from '@tongban/testkit';
import { DataSource } from 'typeorm';
import { DeliveryOptions } from './delivery.options';
import { Dispatcher } from './dispatcher.service';
import { OutboxAdmin } from './outbox-admin.service';
import { OutboxMessageEntity } from './outbox-message.entity';
import { Outbox } from './outbox.service';

const PEER = '130000';
const rejected = (reason: string) => new DomainException('ISSUER_REJECTED', `the gateway of ${PEER} rejected the request (${reason})`, { peer: PEER, reason });
const unreachable = () => new DomainException('ISSUER_UNREACHABLE', `the gateway of ${PEER} did not answer in time`, { peer: PEER });

/**
 * A peer port scripted per message body: each Deliver of that body takes the next outcome
 * (an error to throw, or 'ok' for a receipt); once the script is used up, every call succeeds.
 */
class ScriptedPeer {
  readonly calls: string[] = [];
  constructor(private readonly scripts: Map<string, (Error | 'ok')[]>) {}

  async call(_peer: string, _rpc: string, payload: Uint8Array): Promise<Buffer> {
    const p = DeliveryPayload.decode(payload);
    const label = Buffer.from(p.body).toString();
    this.calls.push(label);
    const next = this.scripts.get(label)?.shift() ?? 'ok';
    if (next !== 'ok') throw next;
    // The verifier below accepts this "token": the claims travel as JSON.
    const receipt = JSON.stringify({ iss: PEER, mid: p.messageId, dig: digest(p.body), sta: 'ACCEPTED' });
    return Buffer.from(DeliveryReceiptPayload.encode({ receipt }).finish());
  }
}

const verifier = { check: async (token: string) => ({ valid: true, claims: JSON.parse(token) as unknown }) } as unknown as SignedTokenVerifier;

describeEachDatabase('Dispatcher dead letters (poison messages)', (fresh) => {
  let ds: DataSource;
  let dispatcher: Dispatcher | undefined;
  const clock: Clock = new SystemClock();
  const options: DeliveryOptions = {
    deadLetterAgeMs: 7 * 24 * 3600_000,
    deadAfterFailures: 3,
    backoffBaseMs: 10,
    backoffCapMs: 20,
    pollIntervalMs: 10,
    idlePollMs: 10,
    leaseMs: 10_000,
    concurrency: 4,
  };

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [OutboxMessageEntity]));
  });
  afterEach(async () => {
    await dispatcher?.stop();
    await ds.destroy();
  });

  const enqueue = (stream: string, label: string) => runInTransaction(ds, (tx) => new Outbox(clock).enqueue(tx, { peer: PEER, stream, type: 't', body: Buffer.from(label), correlationId: undefined }));
  const row = (id: string) => ds.getRepository(OutboxMessageEntity).findOneByOrFail({ id });
  async function until(what: string, id: string, ok: (r: OutboxMessageEntity) => boolean): Promise<OutboxMessageEntity> {
    for (let i = 0; i < 500; i++) {
      const r = await row(id);
      if (ok(r)) return r;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await row(id))}`);
  }

  it('parks a message as DEAD after the same non-transient failure N times in a row, holds back its stream, and re-queue lets the stream go on in order', async () => {
    // Transient failures neither count nor break the run; another kind restarts it.
    const peer = new ScriptedPeer(
      new Map([
        ['m1', [rejected('INTERNAL'), unreachable(), rejected('OUT_OF_ORDER'), rejected('INTERNAL'), rejected('MALFORMED_PAYLOAD'), rejected('INTERNAL'), rejected('INTERNAL'), rejected('INTERNAL')]],
      ]),
    );
    const metrics = new Metrics();
    const m1 = await enqueue('case-a', 'm1');
    const m2 = await enqueue('case-a', 'm2');
    const other = await enqueue('case-b', 'other');
    dispatcher = new Dispatcher(ds, clock, peer as unknown as PeerClient, verifier, options, metrics);
    dispatcher.start();

    const dead = await until('m1 DEAD', m1, (r) => r.status === 'DEAD');
    expect(dead).toMatchObject({ attempts: 8, failureCode: 'INTERNAL', failureCount: 3, deadReason: 'FAILURES' });
    expect(dead.lastError).toBe(`ISSUER_REJECTED: the gateway of ${PEER} rejected the request (INTERNAL)`);
    await until('the other stream delivered', other, (r) => r.status === 'DELIVERED');
    // m2 is behind the dead m1: never sent, still PENDING with no attempt.
    expect(await row(m2)).toMatchObject({ status: 'PENDING', attempts: 0 });
    expect(peer.calls.filter((c) => c === 'm2')).toEqual([]);
    expect(await metrics.render()).toMatch(/tongban_dead_letters_total\{queue="outbox",reason="INTERNAL"\} 1/);

    const admin = new OutboxAdmin(ds, clock, dispatcher);
    const view = (await admin.list('DEAD'))[0];
    expect(view).toMatchObject({ id: m1, failureCode: 'INTERNAL', failureCount: 3, deadReason: 'FAILURES' });

    // The cause is fixed (the script is used up): re-queue m1 only; m2 follows it.
    expect(await admin.requeue(m1)).toMatchObject({ status: 'PENDING', attempts: 0, failureCode: null, failureCount: 0, deadReason: null });
    await until('m2 delivered', m2, (r) => r.status === 'DELIVERED');
    // The end of a delivery (a prepared statement): receipt and time stored, lease and failure run cleared.
    const delivered = await row(m1);
    expect(delivered).toMatchObject({ status: 'DELIVERED', failureCount: 0, failureCode: null, leaseOwner: null, leaseUntil: null, lastError: null });
    expect(JSON.parse(delivered.receipt ?? '{}')).toMatchObject({ mid: m1, sta: 'ACCEPTED' });
    expect(delivered.deliveredAt?.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const order = peer.calls.filter((c) => c !== 'other');
    expect(order.slice(-2)).toEqual(['m1', 'm2']);
  });

  it('never parks a message for transient failures alone (only the dead-letter age does)', async () => {
    const peer = new ScriptedPeer(new Map([['m1', Array.from({ length: 8 }, (_, i) => (i % 2 ? unreachable() : rejected('UNKNOWN_KEY')))]]));
    const m1 = await enqueue('case-a', 'm1');
    dispatcher = new Dispatcher(ds, clock, peer as unknown as PeerClient, verifier, options);
    dispatcher.start();
    const done = await until('m1 delivered', m1, (r) => r.status === 'DELIVERED');
    expect(done.attempts).toBe(8);
  });
});
