import { Inject, Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { DataSource, EntityManager } from 'typeorm';
import { Clock, DomainException, SELF_CODE } from '@tongban/common';
import { Dispatcher, Outbox } from '@tongban/delivery';
import { CaseEntity, CaseNaming, caseNamed } from './case.entity';
import { CaseStepEntity } from './case-step.entity';
import { CaseEventRecord, CaseUnitOfWork } from './case-unit-of-work';
import { afterCommit, hydrate, runInTransaction, selectColumns } from '@tongban/persistence';

/**
 * Called inside the case transaction, after the work and before the commit, with the events the
 * work recorded; what it writes commits (or rolls back) with them. A throw aborts the transaction.
 */
export type InTransactionListener = (tx: EntityManager, records: CaseEventRecord[]) => Promise<void>;

/**
 * Runs case work in one transaction and, after the commit, publishes its events to local
 * subscribers (`events.on('event', …)`) and wakes the dispatcher. Subscribers that must not
 * lose an event (webhook deliveries) register with `inTransaction` instead and write with it.
 */
@Injectable()
export class CaseTransactions {
  readonly events = new EventEmitter();
  private readonly listeners: InTransactionListener[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
    @Inject(SELF_CODE) readonly self: string,
  ) {
    this.events.setMaxListeners(50);
  }

  /** Registers a listener called with each transaction's events before it commits. */
  inTransaction(listener: InTransactionListener): void {
    this.listeners.push(listener);
  }

  /** Runs `fn` in a new transaction (its own unit of work); `correlationId`: the request's, stored with the messages it sends. */
  async run<T>(fn: (uow: CaseUnitOfWork) => Promise<T>, correlationId?: string): Promise<T> {
    return runInTransaction(this.ds, (tx) => this.within(tx, fn, correlationId));
  }

  /** Runs `fn` inside an existing transaction (the inbox's); publishing waits for its commit. */
  async within<T>(tx: EntityManager, fn: (uow: CaseUnitOfWork) => Promise<T>, correlationId?: string): Promise<T> {
    const uow = new CaseUnitOfWork(tx, this.outbox, this.self, this.clock.now(), correlationId);
    const result = await fn(uow);
    // Written with the rest of the transaction's kept writes just before its commit.
    uow.keepHistory();
    await this.beforeCommit(uow);
    // Published only once the outermost transaction has committed, outside its context.
    afterCommit(tx, () => this.published(uow));
    return result;
  }

  /**
   * The case `ref` names, with its steps; 404 when unknown. `naming` is required: a local caller may
   * name a case by its local id or its collaboration id, a peer by its collaboration id only. Always locked
   * (FOR UPDATE on PostgreSQL; SQLite has one writer): whoever reads a case in a transaction may
   * change it, and two replicas must not both act on the same state. The lock also orders every
   * message queued on the case's stream (`CaseUnitOfWork.send`).
   *
   * One statement: the case joined with its steps. On PostgreSQL it locks the steps too (case row
   * first, then the steps in order): after waiting for a lock, PostgreSQL re-reads the newest
   * version of every row it locked, so steps changed by the transaction it waited for are never
   * stale. Every writer of steps loads (locks) the case first, so the order cannot deadlock.
   */
  async load(uow: CaseUnitOfWork, ref: string, naming: CaseNaming): Promise<{ c: CaseEntity; steps: CaseStepEntity[] }> {
    // Rows kept for the commit would be read stale (no transaction loads after writing today; nothing kept, nothing sent).
    await uow.writes.flush();
    const postgres = this.ds.options.type === 'postgres';
    const [sql, params] = this.ds.driver.escapeQueryWithParameters(
      `SELECT ${selectColumns(this.ds, CaseEntity, 'c')}, ${selectColumns(this.ds, CaseStepEntity, 's')}
         FROM cases c JOIN case_steps s ON s.case_id = c.id
        WHERE ${caseNamed('c', naming)}
        ORDER BY s.idx${postgres ? ' FOR UPDATE' : ''}`,
      { ref },
      {},
    );
    const rows = await uow.tx.query<Record<string, unknown>[]>(sql, params);
    if (rows.length === 0) return this.loadWithoutSteps(uow, ref, naming);
    const c = hydrate(this.ds, CaseEntity, rows[0], 'c');
    uow.holds(c);
    return { c, steps: rows.filter((r) => r.c__id === rows[0].c__id).map((r) => hydrate(this.ds, CaseStepEntity, r, 's')) };
  }

  /** A case with no step rows (only a peer's malformed CaseOpened could leave one): read alone, locked. */
  private async loadWithoutSteps(uow: CaseUnitOfWork, ref: string, naming: CaseNaming): Promise<{ c: CaseEntity; steps: CaseStepEntity[] }> {
    const q = uow.tx.getRepository(CaseEntity).createQueryBuilder('c').where(caseNamed('c', naming), { ref });
    const c = await (this.ds.options.type === 'postgres' ? q.setLock('pessimistic_write') : q).getOne();
    if (!c) throw new DomainException('NOT_FOUND', `no case ${ref}`);
    uow.holds(c);
    return { c, steps: [] };
  }

  private async beforeCommit(uow: CaseUnitOfWork): Promise<void> {
    if (uow.published.length === 0) return;
    for (const listener of this.listeners) await listener(uow.tx, uow.published);
  }

  private published(uow: CaseUnitOfWork): void {
    if (uow.sent > 0) this.dispatcher.nudge();
    for (const e of uow.published) this.events.emit('event', e satisfies CaseEventRecord);
  }
}
