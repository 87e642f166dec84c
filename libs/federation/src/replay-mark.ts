import { EntityManager } from 'typeorm';
import { RefusalException } from './refusal';

/** How a mark reaches the replay store on its own (ReplayStore.remember): false for a replay. */
export type RememberAlone = () => Promise<boolean>;

const INSERT = 'INSERT INTO seen_messages (sender, message_id, expires_at) VALUES (:replaySender, :replayMessageId, :replayKeepUntil) ON CONFLICT DO NOTHING';

/**
 * The (sender, jti) of a request whose envelope passed every check, to be remembered by its handler
 * inside the handler's own transaction (the Deliver RPC: the inbox's) instead of in a statement and
 * a commit of its own before the handler runs: on PostgreSQL the insert is a `WITH` part of the
 * handler's first read, so a delivery's replay check costs no round trip of its own.
 *
 * The guarantee is the same as ReplayStore.remember's: the insert is `ON CONFLICT DO NOTHING`, so
 * an id remembered before (or by a concurrent transaction that commits) makes `rememberWith` return
 * null and the handler refuses with `refusal()` (REPLAYED) before it does anything; the row commits
 * with the handler's writes. Whoever holds the mark must see it `stored` once the request is
 * answered: FederationInbox remembers it on its own after any refusal whose transaction rolled back
 * (the refusals of docs/protocol.md §4.2 that consume the id still do), and refuses a handler that
 * returned without storing it.
 */
export class ReplayMark {
  private isStored = false;

  constructor(
    readonly sender: string,
    readonly messageId: string,
    /** Epoch ms until which the id is kept (ReplayStore's retention). */
    private readonly keepUntil: number,
    private readonly alone: RememberAlone,
  ) {}

  /** True once the id is in the replay store for good (a committed transaction, or `rememberAlone`). */
  get stored(): boolean {
    return this.isStored;
  }

  /**
   * Inserts the id in `tx` and runs `read` (a SELECT that always returns exactly one row, such as
   * scalar subqueries; named `:parameters`) in the same round trip on PostgreSQL (two statements on
   * SQLite). Returns the read's row, or null when the id was remembered before: a replay, to be
   * refused with `refusal()`. Call `committed()` once `tx` committed.
   */
  async rememberWith<Row extends object>(tx: EntityManager, read: string, params: Record<string, unknown>): Promise<Row | null> {
    const all = { ...params, replaySender: this.sender, replayMessageId: this.messageId, replayKeepUntil: this.keepUntil };
    const driver = tx.connection.driver;
    let row: (Row & { replay_fresh?: unknown }) | undefined;
    if (tx.connection.options.type === 'postgres') {
      const [sql, values] = driver.escapeQueryWithParameters(`WITH replay_mark AS (${INSERT} RETURNING 1) SELECT EXISTS (SELECT 1 FROM replay_mark) AS replay_fresh, q.* FROM (${read}) AS q`, all, {});
      [row] = await tx.query<(Row & { replay_fresh: boolean })[]>(sql, values);
      if (row && !row.replay_fresh) return null;
      if (row) delete row.replay_fresh;
    } else {
      const [insert, insertValues] = driver.escapeQueryWithParameters(`${INSERT} RETURNING 1 AS fresh`, all, {});
      if ((await tx.query<unknown[]>(insert, insertValues)).length === 0) return null;
      const [sql, values] = driver.escapeQueryWithParameters(read, all, {});
      [row] = await tx.query<Row[]>(sql, values);
    }
    if (!row) throw new Error('ReplayMark.rememberWith: the read returned no row');
    return row;
  }

  /** Called by the holder of the transaction that remembered the id, once it committed. */
  committed(): void {
    this.isStored = true;
  }

  /** Remembers the id in a statement of its own; false when it was remembered before (a replay). */
  async rememberAlone(): Promise<boolean> {
    const fresh = await this.alone();
    if (fresh) this.isStored = true;
    return fresh;
  }

  /** The refusal of a replayed request (the text ReplayStore's callers give). */
  refusal(): RefusalException {
    return new RefusalException('REPLAYED', `message id ${this.messageId} was already accepted`, this.sender, this.messageId, true);
  }
}
