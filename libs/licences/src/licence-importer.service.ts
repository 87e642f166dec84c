import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Clock, ValidationException, parseOrThrow } from '@tongban/common';
import { LicenceEntity } from './licence.entity';
import { LicenceRecord, licenceRecordSchema } from './licence-record';
import { openLicenceFile } from './licence-file';
import { placeholder, runInTransaction } from '@tongban/persistence';

const BATCH = 500;

/** Outcome of one import. */
export interface ImportResult {
  read: number;
  created: number;
  updated: number;
}

/** Called after each batch written: records done so far, and the share of the input read (0-1). */
export type ImportProgress = (done: number, fraction: number) => void;

/**
 * Imports licences from JSON (an array of records) or CSV (a header row of the same field names).
 * The file is streamed: records are validated and upserted in batches of 500, so memory stays flat
 * however many records the file holds (a 1,000,000-record file imports in a few tens of MiB). The
 * whole import is one transaction, so a bad record anywhere, or a refusal by the database, changes
 * nothing. Re-importing the same file is a no-op apart from `updated` counts.
 */
@Injectable()
export class LicenceImporter {
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Streams, validates and upserts a file; `onProgress` is called per batch. */
  async importFile(path: string, onProgress?: ImportProgress): Promise<ImportResult> {
    const source = openLicenceFile(path);
    return this.importStream(source.records, (done) => onProgress?.(done, source.fraction()));
  }

  /** Validates and upserts records (by licenceId). */
  async importRecords(raw: unknown[], onProgress?: ImportProgress): Promise<ImportResult> {
    return this.importStream(
      (async function* () {
        yield* raw;
      })(),
      (done) => onProgress?.(done, done / raw.length),
    );
  }

  private async importStream(records: AsyncIterable<unknown>, onBatch: (done: number) => void): Promise<ImportResult> {
    const now = this.clock.now();
    return runInTransaction(this.ds, async (tx) => {
      const seen = await SeenIds.open(tx);
      const write = new BatchWriter(tx, now.getTime());
      let read = 0;
      let created = 0;
      let batch: LicenceRecord[] = [];
      const flush = async () => {
        await seen.add(batch, read - batch.length);
        created += await write.upsert(batch);
        batch = [];
        onBatch(read);
      };
      for await (const raw of records) {
        batch.push(parseOrThrow(licenceRecordSchema, raw, `records[${read}]`));
        read++;
        if (batch.length === BATCH) await flush();
      }
      if (batch.length) await flush();
      await seen.close();
      return { read, created, updated: read - created };
    });
  }
}

/**
 * The licence ids of this import so far, in a temporary table of the import's own transaction (not
 * in memory), so that a licenceId appearing twice in a file of any size is refused.
 */
class SeenIds {
  private constructor(
    private readonly tx: EntityManager,
    private readonly pg: boolean,
  ) {}

  static async open(tx: EntityManager): Promise<SeenIds> {
    const pg = tx.connection.options.type === 'postgres';
    await tx.query(`CREATE TEMPORARY TABLE licence_import_seen (licence_id varchar(128) PRIMARY KEY)${pg ? ' ON COMMIT DROP' : ''}`);
    return new SeenIds(tx, pg);
  }

  /** Records the batch's ids; throws DUPLICATE naming the first record whose id came before. */
  async add(batch: LicenceRecord[], firstIndex: number): Promise<void> {
    const duplicate = (j: number) => new ValidationException(`records[${firstIndex + j}].licenceId`, 'DUPLICATE', `records[${firstIndex + j}].licenceId: appears twice in the file`);
    const ids = batch.map((r) => r.licenceId);
    const inBatch = new Set<string>();
    ids.forEach((id, j) => {
      if (inBatch.has(id)) throw duplicate(j);
      inBatch.add(id);
    });
    const list = ids.map((_, j) => placeholder(this.tx.connection, j + 1)).join(', ');
    const earlier: { licence_id: string }[] = await this.tx.query(`SELECT licence_id FROM licence_import_seen WHERE licence_id IN (${list})`, ids);
    if (earlier.length) {
      const hit = new Set(earlier.map((r) => r.licence_id));
      throw duplicate(ids.findIndex((id) => hit.has(id)));
    }
    await this.tx.query(`INSERT INTO licence_import_seen (licence_id) VALUES ${ids.map((_, j) => `(${placeholder(this.tx.connection, j + 1)})`).join(', ')}`, ids);
  }

  /** Drops the table (PostgreSQL drops it at commit by itself). */
  async close(): Promise<void> {
    if (!this.pg) await this.tx.query('DROP TABLE temp.licence_import_seen');
  }
}

/**
 * Upserts a batch by licenceId in one statement (plain SQL: TypeORM's query builder spent most of an
 * import's CPU time assembling 7,500-parameter statements), after counting which ids exist already.
 */
class BatchWriter {
  private readonly columns: { db: string; prop: string }[];

  constructor(
    private readonly tx: EntityManager,
    private readonly nowMs: number,
  ) {
    this.columns = tx.connection.getMetadata(LicenceEntity).columns.map((c) => ({ db: c.databaseName, prop: c.propertyName }));
  }

  /** Writes the batch; returns how many of its records were new. */
  async upsert(batch: LicenceRecord[]): Promise<number> {
    const ds = this.tx.connection;
    const ids = batch.map((r) => r.licenceId);
    const [{ n }]: { n: number | string }[] = await this.tx.query(`SELECT COUNT(*) AS n FROM licences WHERE licence_id IN (${ids.map((_, j) => placeholder(ds, j + 1)).join(', ')})`, ids);
    const width = this.columns.length;
    const params: unknown[] = [];
    for (const r of batch) for (const c of this.columns) params.push(c.prop === 'updatedAt' ? this.nowMs : ((r as unknown as Record<string, unknown>)[c.prop] ?? null));
    const rows = batch.map((_, k) => `(${this.columns.map((_, j) => placeholder(ds, k * width + j + 1)).join(', ')})`).join(', ');
    const names = this.columns.map((c) => `"${c.db}"`);
    const updates = this.columns.filter((c) => c.prop !== 'licenceId').map((c) => `"${c.db}" = excluded."${c.db}"`);
    await this.tx.query(`INSERT INTO licences (${names.join(', ')}) VALUES ${rows} ON CONFLICT ("licence_id") DO UPDATE SET ${updates.join(', ')}`, params);
    return batch.length - Number(n);
  }
}
