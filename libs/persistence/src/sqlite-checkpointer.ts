import { Logger } from '@nestjs/common';
import { Worker } from 'node:worker_threads';

/** The shortest time between two checkpoints while writes go on (SQLite's own default waits for 1,000 pages). */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** SQLite's default `wal_autocheckpoint`, restored when the checkpointer thread cannot run. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;

/** The one checkpoint of the WAL into the database file, as `PRAGMA wal_checkpoint(PASSIVE)` reports it. */
export interface CheckpointResult {
  /** 1 when the checkpoint could not run to completion (a reader or the writer was in the way). */
  busy: number;
  /** Frames in the WAL. */
  log: number;
  /** Frames copied into the database file. */
  checkpointed: number;
}

type Message = { type: 'ready' } | ({ type: 'done' } & CheckpointResult) | { type: 'failed'; message: string };

// The checkpointer's thread: its own connection to the same file, which copies the WAL's frames
// into the database file and syncs it (the part of a commit that waits for the disk) at most once
// per interval while the main thread writes, and never while it does not. PASSIVE never blocks the
// writer or a reader: what it cannot copy now it copies next time.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
let db;
try {
  const Database = require(workerData.driver);
  db = new Database(workerData.path, { fileMustExist: true });
  db.pragma('synchronous = NORMAL');
} catch (e) {
  db = undefined;
  parentPort.postMessage({ type: 'failed', message: String((e && e.message) || e) });
}
let last = 0;
let timer;
const run = () => {
  timer = undefined;
  last = Date.now();
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ type: 'done', busy: r.busy, log: r.log, checkpointed: r.checkpointed });
  } catch (e) {
    parentPort.postMessage({ type: 'failed', message: String((e && e.message) || e) });
  }
};
if (db) parentPort.on('message', (m) => {
  if (m === 'close') {
    if (timer) clearTimeout(timer);
    db.close();
    parentPort.close();
    return;
  }
  if (timer) return;
  const wait = last + workerData.intervalMs - Date.now();
  if (wait <= 0) run();
  else timer = setTimeout(run, wait);
});
if (db) parentPort.postMessage({ type: 'ready' });
`;

declare const __non_webpack_require__: NodeJS.Require | undefined;
/** Node's own require (the gateway is a webpack bundle, whose `require.resolve` names bundle modules). */
const nodeRequire: NodeJS.Require = typeof __non_webpack_require__ === 'function' ? __non_webpack_require__ : require;

/**
 * Moves SQLite's WAL checkpoints off the event loop. By default the connection that commits runs a
 * checkpoint whenever the WAL passes 1,000 pages: it copies them into the database file and syncs
 * it, and every request waits meanwhile (bench:verify: commits were a tenth of the issuer's busy time,
 * and each checkpoint a stall of several ms). Here the main connection's automatic checkpoint is off
 * and a worker thread with its own connection checkpoints instead, nudged after the writer is
 * released (`nudge`), at most once per `intervalMs`; nothing runs while nothing is written.
 * Durability is unchanged (WAL with synchronous=NORMAL: a commit is durable once checkpointed, as
 * before). If the thread cannot start or fails, the main connection checkpoints itself again.
 */
export class SqliteCheckpointer {
  private readonly logger = new Logger('SqliteCheckpointer');
  private state: 'off' | 'starting' | 'on' | 'failed' | 'closed' = 'off';
  private worker?: Worker;
  private pending = false;
  private readonly listeners = new Set<(r: CheckpointResult) => void>();

  constructor(
    private readonly path: string,
    private readonly connection: { pragma(source: string): unknown },
    private readonly options: { intervalMs?: number; driver?: string } = {},
  ) {}

  /** Whether checkpoints run on the worker thread now (false before the first write, and after a failure). */
  get active(): boolean {
    return this.state === 'on';
  }

  /** The writer was released: writes may have been committed. Starts the thread on the first call. */
  nudge(): void {
    if (this.state === 'on') {
      if (this.pending) return;
      this.pending = true;
      this.worker!.postMessage('wrote');
    } else if (this.state === 'off') {
      this.start();
    }
  }

  /** Calls `fn` after each checkpoint the thread ran; returns the unsubscribe function. */
  onCheckpoint(fn: (r: CheckpointResult) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Stops the thread (before the main connection closes, so that the last connection to close checkpoints). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.state = 'closed';
    this.worker = undefined;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    // Held now: while the process waits for nothing but this thread, it must not end before it does.
    worker.ref();
    worker.postMessage('close');
    await exited;
  }

  private start(): void {
    this.state = 'starting';
    let driver: string;
    try {
      driver = this.options.driver ?? nodeRequire.resolve('better-sqlite3');
    } catch (e) {
      return this.fail(e);
    }
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, path: this.path, intervalMs: this.options.intervalMs ?? CHECKPOINT_INTERVAL_MS } });
    // Never what keeps a process alive; close() ends it in an orderly way.
    worker.unref();
    this.worker = worker;
    worker.on('message', (m: Message) => {
      if (m.type === 'ready') {
        if (this.state !== 'starting') return;
        this.connection.pragma('wal_autocheckpoint = 0');
        this.state = 'on';
        // Writes of the start-up may be waiting already.
        this.nudge();
      } else if (m.type === 'done') {
        this.pending = false;
        for (const fn of this.listeners) fn({ busy: m.busy, log: m.log, checkpointed: m.checkpointed });
      } else {
        this.fail(new Error(m.message));
      }
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', () => {
      if (this.state === 'on' || this.state === 'starting') this.fail(new Error('the checkpointer thread exited'));
    });
  }

  private fail(e: unknown): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    this.state = 'failed';
    const worker = this.worker;
    this.worker = undefined;
    void worker?.terminate();
    try {
      this.connection.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    } catch {
      // The connection is closing: nothing left to checkpoint for.
    }
    this.logger.warn(`WAL checkpoints run on the main thread again: ${e instanceof Error ? e.message : String(e)}`);
  }
}
