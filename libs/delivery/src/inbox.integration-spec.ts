import { SystemClock } from '@tongban/common';
import { RefusalException } from '@tongban/federation';
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
    ds = await openDatabase(buildDataSource(fresh(), [InboxMessageEntity]));
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
});
