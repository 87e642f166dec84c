import { SystemClock } from '@tongban/common';
import { FederationOptions, RefusalException, ReplayStore, SeenMessageEntity } from '@tongban/federation';
import { KeyStore } from '@tongban/keys';
import { DataSource, buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { InboxMessageEntity } from './inbox-message.entity';
import { DeliveryRejection, Inbox } from './inbox.service';

// Receipts are JSON here: what is signed does not matter to these rules, only what is stored.
const keys = { signJws: (_typ: string, claims: object) => JSON.stringify(claims) } as unknown as KeyStore;
const message = (messageId: string, seq: number, type = 'test.Write') => ({ messageId, stream: 's-1', seq: String(seq), type, body: Buffer.from(messageId) });
const status = (receipt: string) => (JSON.parse(receipt) as { sta: string; rsn?: string }).sta;

describeEachDatabase('Inbox', (fresh) => {
  let ds: DataSource;
  let inbox: Inbox;

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [InboxMessageEntity, SeenMessageEntity]));
    await ds.query('CREATE TABLE written (id varchar(64) PRIMARY KEY)');
    inbox = new Inbox(ds, keys, new SystemClock(), '110000');
    // Writes, then refuses the message whose id starts with "refuse".
    inbox.on('test.Write', async (tx, m) => {
      await tx.query(ds.options.type === 'postgres' ? 'INSERT INTO written VALUES ($1)' : 'INSERT INTO written VALUES (?)', [m.messageId]);
      if (m.messageId.startsWith('refuse')) throw new DeliveryRejection('refused by the handler');
    });
  });
  afterEach(() => ds.destroy());

  const written = async () => (await ds.query<{ id: string }[]>('SELECT id FROM written ORDER BY id')).map((r) => r.id);

  it('applies a message once: a redelivery gets the stored receipt and changes nothing', async () => {
    const first = await inbox.receive('130000', message('m1', 1));
    expect(status(first)).toBe('ACCEPTED');
    expect(await inbox.receive('130000', message('m1', 1))).toBe(first);
    expect(await written()).toEqual(['m1']);
  });

  it('a handler that wrote and then refused leaves nothing behind; the REJECTED receipt is stored and uses up the seq', async () => {
    const refused = await inbox.receive('130000', message('refuse-1', 1));
    expect(JSON.parse(refused)).toMatchObject({ sta: 'REJECTED', rsn: 'refused by the handler', seq: 1 });
    expect(await written()).toEqual([]);
    expect(await inbox.receive('130000', message('refuse-1', 1))).toBe(refused);
    expect(status(await inbox.receive('130000', message('m2', 2)))).toBe('ACCEPTED');
    expect(await written()).toEqual(['m2']);
  });

  it('refuses a gap with OUT_OF_ORDER and rejects a reused seq', async () => {
    await expect(inbox.receive('130000', message('m3', 3))).rejects.toBeInstanceOf(RefusalException);
    expect(status(await inbox.receive('130000', message('m1', 1)))).toBe('ACCEPTED');
    const reused = JSON.parse(await inbox.receive('130000', message('other', 1))) as { sta: string; rsn: string };
    expect(reused).toMatchObject({ sta: 'REJECTED' });
    expect(reused.rsn).toMatch(/already used/);
    expect(await written()).toEqual(['m1']);
  });

  it('the same message delivered twice at once (two replicas) takes effect once: both get the receipt stored first', async () => {
    // No write of its own: the only conflict is the inbox row itself, kept for the commit (pendingWrites).
    inbox.on('test.Nothing', () => Promise.resolve());
    const [a, b] = await Promise.all([inbox.receive('130000', message('twice', 1, 'test.Nothing')), inbox.receive('130000', message('twice', 1, 'test.Nothing'))]);
    expect(status(a)).toBe('ACCEPTED');
    expect(b).toBe(a);
    expect(await ds.getRepository(InboxMessageEntity).countBy({ sender: '130000', messageId: 'twice' })).toBe(1);
  });

  describe('with the envelope id remembered in the inbox transaction (ReplayMark, the Deliver RPC)', () => {
    const options = { clockSkewSeconds: 60 } as FederationOptions;
    const exp = () => Math.floor(Date.now() / 1000) + 120;
    const seenIds = async () => (await ds.getRepository(SeenMessageEntity).find()).map((r) => `${r.sender}/${r.messageId}`).sort();
    const inboxRows = () => ds.getRepository(InboxMessageEntity).count();
    let replay: ReplayStore;
    beforeEach(() => {
      replay = new ReplayStore(ds, new SystemClock(), options);
    });

    it('stores the id with the message; the same envelope again is refused REPLAYED and changes nothing', async () => {
      const mark = replay.mark('130000', 'jti-1', exp());
      expect(status(await inbox.receive('130000', message('m1', 1), undefined, mark))).toBe('ACCEPTED');
      expect(mark.stored).toBe(true);
      expect(await seenIds()).toEqual(['130000/jti-1']);

      const again = replay.mark('130000', 'jti-1', exp());
      await expect(inbox.receive('130000', message('m1', 1), undefined, again)).rejects.toMatchObject({ code: 'REPLAYED', messageId: 'jti-1' });
      // A new message in the replayed envelope is refused before the handler runs.
      await expect(inbox.receive('130000', message('m2', 2), undefined, replay.mark('130000', 'jti-1', exp()))).rejects.toMatchObject({ code: 'REPLAYED' });
      expect(again.stored).toBe(false);
      expect(await written()).toEqual(['m1']);
      expect(await inboxRows()).toBe(1);
      // An id remembered by the store itself (another RPC, an older replica) counts the same.
      await replay.remember('130000', 'jti-2', exp());
      await expect(inbox.receive('130000', message('m2', 2), undefined, replay.mark('130000', 'jti-2', exp()))).rejects.toMatchObject({ code: 'REPLAYED' });
      expect(await inboxRows()).toBe(1);
    });

    it('a redelivery in a new envelope gets the stored receipt and uses up its id too', async () => {
      const first = await inbox.receive('130000', message('m1', 1), undefined, replay.mark('130000', 'jti-a', exp()));
      const retry = replay.mark('130000', 'jti-b', exp());
      expect(await inbox.receive('130000', message('m1', 1), undefined, retry)).toBe(first);
      expect(retry.stored).toBe(true);
      expect(await seenIds()).toEqual(['130000/jti-a', '130000/jti-b']);
    });

    it('a handler refusal rolls back its writes but the REJECTED receipt stores the id', async () => {
      const mark = replay.mark('130000', 'jti-r', exp());
      expect(status(await inbox.receive('130000', message('refuse-1', 1), undefined, mark))).toBe('REJECTED');
      expect(mark.stored).toBe(true);
      expect(await written()).toEqual([]);
      expect(await seenIds()).toEqual(['130000/jti-r']);
    });

    it('a refusal that rolls the transaction back (OUT_OF_ORDER) leaves the id to the caller, which stores it alone', async () => {
      const mark = replay.mark('130000', 'jti-gap', exp());
      await expect(inbox.receive('130000', message('m3', 3), undefined, mark)).rejects.toMatchObject({ code: 'OUT_OF_ORDER' });
      expect(mark.stored).toBe(false);
      expect(await seenIds()).toEqual([]);
      expect(await mark.rememberAlone()).toBe(true);
      expect(mark.stored).toBe(true);
      expect(await replay.mark('130000', 'jti-gap', exp()).rememberAlone()).toBe(false);
    });

    it('the same envelope delivered twice at once takes effect once; the other is refused REPLAYED', async () => {
      inbox.on('test.Nothing', () => Promise.resolve());
      const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => inbox.receive('130000', message('raced', 1, 'test.Nothing'), undefined, replay.mark('130000', 'jti-raced', exp()))));
      const accepted = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(accepted).toHaveLength(1);
      expect(refused.map((o) => (o.reason as RefusalException).code)).toEqual(['REPLAYED', 'REPLAYED', 'REPLAYED']);
      expect(await inboxRows()).toBe(1);
      expect(await seenIds()).toEqual(['130000/jti-raced']);
    });
  });
});
