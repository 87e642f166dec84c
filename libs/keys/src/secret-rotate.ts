import { Logger } from '@nestjs/common';
import { DataSource, IsNull, Not } from 'typeorm';
import { KeyEncryption, UnknownKekError } from './key-encryption';
import { SealedColumn } from './secret-reseal';

/** What a rotation did: rows moved to the current secret, per column and per secret they came from. */
export interface RotateReport {
  /** The kek id every rotated value is now sealed under. */
  to: string;
  /** Rows re-sealed under `to`, per column name. */
  rotated: Record<string, number>;
  /** Rows re-sealed, per kek id they were under (`unlabelled`: written by an earlier release, opened by trying). */
  from: Record<string, number>;
  /** Rows already under `to` that only had no kek id yet (written by an earlier release). */
  labelled: Record<string, number>;
  /** Ids left as they were because they open under neither secret (`unopenable: 'keep'` columns). */
  kept: Record<string, string[]>;
}

/** Test-only: stop after this many re-sealed rows (TONGBAN_TEST_ROTATE_PAUSE_AFTER; refused in production). */
export interface RotateOptions {
  pauseAfterRows?: number | null;
  onPause?: (rows: number) => Promise<void>;
}

const UNLABELLED = 'unlabelled';

/**
 * Re-seals every value of `columns` that is not under the current key-encryption secret (its kek id
 * differs or is missing) under the current one, ONE ROW AT A TIME: each row changes in a single
 * UPDATE (atomic) that writes the new value and its kek id together, and only if the row still holds
 * the value read. A crash part-way leaves rows done under the new secret and the others under the
 * previous one: every value opens with one of the two, and running it again finishes the rest. The
 * gateway keeps working meanwhile (replicas with both secrets open either). Stops (rows done so far
 * stay done) on a value that must open and does not.
 */
export async function rotateSealed(ds: DataSource, encryption: KeyEncryption, columns: SealedColumn[], options: RotateOptions = {}): Promise<RotateReport> {
  const to = await encryption.kekId();
  const report: RotateReport = { to, rotated: {}, from: {}, labelled: {}, kept: {} };
  let done = 0;
  for (const column of columns) {
    report.rotated[column.name] = 0;
    report.labelled[column.name] = 0;
    report.kept[column.name] = [];
    const repo = ds.getRepository(column.entity);
    // A row changed by someone else between the read and the update (a re-seal at a replica's start) is read again.
    for (let pass = 0; pass < 3; pass++) {
      const rows = await repo.find({
        select: [column.idProperty, column.sealedProperty, column.kekProperty] as never,
        where: [
          { [column.sealedProperty]: Not(IsNull()), [column.kekProperty]: IsNull() },
          { [column.sealedProperty]: Not(IsNull()), [column.kekProperty]: Not(to) },
        ],
        order: { [column.idProperty]: 'ASC' },
      });
      const pending = rows.filter((r) => !report.kept[column.name].includes(String(r[column.idProperty])));
      if (!pending.length) break;
      let raced = 0;
      for (const row of pending) {
        const id = String(row[column.idProperty]);
        const sealed = row[column.sealedProperty] as string;
        const kek = (row[column.kekProperty] as string | null) ?? null;
        let opened: { plaintext: Buffer; kekId: string };
        try {
          opened = await encryption.openLabelled(column.binding(id), sealed, kek);
        } catch (e) {
          if (column.unopenable === 'keep') {
            report.kept[column.name].push(id);
            continue;
          }
          const why = e instanceof UnknownKekError ? e.message : 'it opens under neither TONGBAN_KEY_ENCRYPTION_SECRET nor TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS (altered record?)';
          throw new Error(`${column.name} ${id} cannot be opened to rotate it: ${why}; ${done} row(s) rotated so far stay rotated`);
        }
        const where = { [column.idProperty]: id, [column.sealedProperty]: sealed, [column.kekProperty]: kek ?? IsNull() };
        if (opened.kekId === to) {
          // Already under the current secret, only unlabelled: record which secret it is.
          opened.plaintext.fill(0);
          const result = await repo.update(where, { [column.kekProperty]: to });
          if (result.affected) report.labelled[column.name]++;
          else raced++;
          continue;
        }
        const resealed = await encryption.seal(column.binding(id), opened.plaintext);
        opened.plaintext.fill(0);
        const result = await repo.update(where, { [column.sealedProperty]: resealed, [column.kekProperty]: to });
        if (!result.affected) {
          raced++;
          continue;
        }
        report.rotated[column.name]++;
        const source = kek ?? UNLABELLED;
        report.from[source] = (report.from[source] ?? 0) + 1;
        done++;
        if (options.pauseAfterRows && done === options.pauseAfterRows && options.onPause) await options.onPause(done);
      }
      if (!raced) break;
    }
  }
  return report;
}

/** How many values of each column are under each kek id (`unlabelled`: none recorded), without opening any. */
export async function sealedKekCounts(ds: DataSource, columns: SealedColumn[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const column of columns) {
    const counts: Record<string, number> = {};
    for (const row of await ds.getRepository(column.entity).find({ select: [column.sealedProperty, column.kekProperty] as never })) {
      if (!row[column.sealedProperty]) continue;
      const kek = (row[column.kekProperty] as string | null) ?? UNLABELLED;
      counts[kek] = (counts[kek] ?? 0) + 1;
    }
    out[column.name] = counts;
  }
  return out;
}

/** What the start-up check found. */
export interface KekCheckReport {
  current: string;
  previous: string | null;
  /** Rows given their kek id at this start (written by an earlier release). */
  labelled: number;
  /** Rows still sealed under the previous secret. */
  underPrevious: number;
}

/**
 * At start, before anything opens a sealed value: gives unlabelled rows (written by an earlier
 * release) the kek id of the secret they open under, and refuses to start — in production, or for
 * any signing key — when a row is sealed under a secret this gateway was not given, naming the row
 * and the kek id (never a secret). Logs how many rows are still under the previous secret.
 */
export async function checkSealedAtStart(ds: DataSource, encryption: KeyEncryption, columns: SealedColumn[], production: boolean): Promise<KekCheckReport> {
  const logger = new Logger('SecretRotation');
  const ids = await encryption.kekIds();
  const known = new Set([ids.current, ...(ids.previous ? [ids.previous] : [])]);
  const report: KekCheckReport = { ...ids, labelled: 0, underPrevious: 0 };
  for (const column of columns) {
    const repo = ds.getRepository(column.entity);
    const rows = await repo.find({ select: [column.idProperty, column.sealedProperty, column.kekProperty] as never, order: { [column.idProperty]: 'ASC' } });
    for (const row of rows) {
      const id = String(row[column.idProperty]);
      const sealed = row[column.sealedProperty] as string | null;
      const kek = (row[column.kekProperty] as string | null) ?? null;
      if (!sealed) continue;
      if (kek === null) {
        const opened = await encryption.openLabelled(column.binding(id), sealed).catch(() => null);
        if (!opened) continue; // the key store or the re-seal names it (signing key: refused; webhook: kept, warned)
        opened.plaintext.fill(0);
        const result = await repo.update({ [column.idProperty]: id, [column.sealedProperty]: sealed, [column.kekProperty]: IsNull() }, { [column.kekProperty]: opened.kekId });
        report.labelled += result.affected ? 1 : 0;
        if (opened.kekId === ids.previous) report.underPrevious++;
        continue;
      }
      if (kek === ids.previous) report.underPrevious++;
      if (known.has(kek)) continue;
      const problem = `${column.name} ${id} cannot be decrypted: it is sealed under key-encryption secret ${kek}, which this gateway was not given (TONGBAN_KEY_ENCRYPTION_SECRET is ${ids.current}${ids.previous ? `, TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS is ${ids.previous}` : ', TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS is not set'})`;
      if (production || column.unopenable === 'refuse') throw new Error(`${problem}: set the secret with id ${kek} as TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS (docs/operations.md §4.1b)`);
      logger.warn(`${problem}: it cannot be used until that secret is given back`);
    }
  }
  if (report.labelled) logger.log(`recorded the key-encryption secret of ${report.labelled} value(s) written by an earlier release`);
  if (ids.previous) {
    logger.log(
      report.underPrevious
        ? `${report.underPrevious} value(s) still sealed under the previous key-encryption secret ${ids.previous}: run tongban secrets rotate (now ${ids.current})`
        : `no value is sealed under the previous key-encryption secret ${ids.previous} any more: TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS can be removed`,
    );
  }
  return report;
}
