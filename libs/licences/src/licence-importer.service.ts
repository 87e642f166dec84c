import { Injectable } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { DataSource, In } from 'typeorm';
import { Clock, ValidationException, parseOrThrow } from '@tongban/common';
import { LicenceEntity } from './licence.entity';
import { LicenceRecord, licenceRecordSchema } from './licence-record';
import { runInTransaction } from '@tongban/persistence';

const BATCH = 500;

/** Outcome of one import. */
export interface ImportResult {
  read: number;
  created: number;
  updated: number;
}

/**
 * Imports licences from JSON (an array of records) or CSV (a header row of the same field names).
 * Every record is validated before anything is written; the write is one transaction, so a bad
 * file changes nothing. Re-importing the same file is a no-op apart from `updated` counts.
 */
@Injectable()
export class LicenceImporter {
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {}

  /** Reads, validates and upserts a file; `onProgress(done, total)` is called per batch. */
  async importFile(path: string, onProgress?: (done: number, total: number) => void): Promise<ImportResult> {
    return this.importRecords(readRecords(path), onProgress);
  }

  /** Validates and upserts records (by licenceId). */
  async importRecords(raw: unknown[], onProgress?: (done: number, total: number) => void): Promise<ImportResult> {
    const records: LicenceRecord[] = raw.map((r, i) => parseOrThrow(licenceRecordSchema, r, `records[${i}]`));
    const seen = new Set<string>();
    records.forEach((r, i) => {
      if (seen.has(r.licenceId)) throw new ValidationException(`records[${i}].licenceId`, 'DUPLICATE', `records[${i}].licenceId: appears twice in the file`);
      seen.add(r.licenceId);
    });
    const now = this.clock.now();
    let created = 0;
    await runInTransaction(this.ds, async (tx) => {
      const repo = tx.getRepository(LicenceEntity);
      for (let i = 0; i < records.length; i += BATCH) {
        const batch = records.slice(i, i + BATCH);
        const existing = await repo.count({ where: { licenceId: In(batch.map((r) => r.licenceId)) } });
        created += batch.length - existing;
        await repo.upsert(
          batch.map((r) => ({ ...r, updatedAt: now })),
          { conflictPaths: ['licenceId'], skipUpdateIfNoValuesChanged: false },
        );
        onProgress?.(Math.min(i + BATCH, records.length), records.length);
      }
    });
    return { read: records.length, created, updated: records.length - created };
  }
}

function readRecords(path: string): unknown[] {
  const text = readFileSync(path, 'utf8');
  if (extname(path).toLowerCase() === '.csv') {
    const rows = parseCsv<Record<string, string>>(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
    return rows.map((r) => ({ ...r, validUntil: r.validUntil ? r.validUntil : null }));
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ValidationException('file', 'JSON', `file: not valid JSON (${(e as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { licences?: unknown[] })?.licences;
  if (!Array.isArray(list)) throw new ValidationException('file', 'SHAPE', 'file: must be a JSON array of licence records or {"licences": [...]}');
  return list;
}
