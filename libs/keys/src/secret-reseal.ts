import { Logger } from '@nestjs/common';
import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { lockForTransaction, runInTransaction } from '@tongban/persistence';
import { KeyEncryption, UnknownKekError, sealedAlgOf } from './key-encryption';
import { KeysOptions, SealAlg } from './keys.options';
import { SigningKeyEntity } from './signing-key.entity';

const RESEAL_LOCK_KEY = 7_415_826;

/** A column of sealed values: which table, which properties, and the binding of each row's value. */
export interface SealedColumn {
  /** What the values are, for logs and errors (e.g. `signing key`). */
  name: string;
  entity: EntityTarget<ObjectLiteral>;
  idProperty: string;
  sealedProperty: string;
  /** The property holding the id of the key-encryption secret the value is sealed under (kekIdOf). */
  kekProperty: string;
  /** The binding a row's value is sealed with (KeyEncryption's associated data). */
  binding: (id: string) => string;
  /**
   * A value that does not open under the current secret: `refuse` stops the re-seal (nothing is
   * changed); `keep` leaves it as it is (a webhook secret sealed under a previous secret is already
   * unusable, and registering the webhook again is the documented way out).
   */
  unopenable: 'refuse' | 'keep';
}

/** Sealed private keys of `signing_keys` (bound to the key id). */
export const SIGNING_KEYS_SEALED: SealedColumn = {
  name: 'signing key',
  entity: SigningKeyEntity,
  idProperty: 'kid',
  sealedProperty: 'privateKeyEnc',
  kekProperty: 'kekId',
  binding: (kid) => kid,
  unopenable: 'refuse',
};

/** What a re-seal did, per column name. */
export interface ResealReport {
  to: SealAlg;
  resealed: Record<string, number>;
  /** Ids left as they were because they do not open (`unopenable: 'keep'`). */
  kept: Record<string, string[]>;
}

/** The part of KeyEncryption a re-seal uses (tests wrap it to fail part-way). */
export type ResealEncryption = Pick<KeyEncryption, 'alg' | 'seal' | 'openLabelled' | 'kekId'>;

/**
 * Re-seals every value of `columns` that is not in `encryption.alg`'s format, in ONE transaction:
 * either every value is re-sealed or (on any error, or a crash) none is, and the old values still
 * open. Each value is opened and sealed again under the same binding; a row is only changed if it
 * still holds the value read (another replica may be re-sealing at the same time; on PostgreSQL an
 * advisory lock serialises them). Values sealed under TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS open too;
 * every re-sealed value is under the current secret (its kek id written with it). Plaintext never
 * leaves this function.
 */
export async function resealAtRest(ds: DataSource, encryption: ResealEncryption, columns: SealedColumn[]): Promise<ResealReport> {
  const report: ResealReport = { to: encryption.alg, resealed: {}, kept: {} };
  const kekId = await encryption.kekId();
  await runInTransaction(ds, async (tx) => {
    await lockForTransaction(tx, RESEAL_LOCK_KEY, 'reseal');
    for (const column of columns) {
      report.resealed[column.name] = 0;
      report.kept[column.name] = [];
      const repo = tx.getRepository(column.entity);
      const rows = await repo.find({ select: [column.idProperty, column.sealedProperty, column.kekProperty] as never });
      for (const row of rows) {
        const id = String(row[column.idProperty]);
        const sealed = row[column.sealedProperty] as string | null;
        if (!sealed || sealedAlgOf(sealed) === encryption.alg) continue;
        let plaintext: Buffer;
        try {
          plaintext = (await encryption.openLabelled(column.binding(id), sealed, row[column.kekProperty] as string | null)).plaintext;
        } catch (e) {
          if (column.unopenable === 'keep') {
            report.kept[column.name].push(id);
            continue;
          }
          const why = e instanceof UnknownKekError ? e.message : 'wrong key-encryption secret (TONGBAN_KEY_ENCRYPTION_SECRET) or altered record';
          throw new Error(`${column.name} ${id} cannot be opened to re-seal it as ${encryption.alg}: ${why}; nothing was re-sealed`);
        }
        const resealed = await encryption.seal(column.binding(id), plaintext);
        plaintext.fill(0);
        const result = await repo.update({ [column.idProperty]: id, [column.sealedProperty]: sealed }, { [column.sealedProperty]: resealed, [column.kekProperty]: kekId });
        if (result.affected !== 0) report.resealed[column.name]++;
      }
    }
  });
  return report;
}

/**
 * At start, before the key store loads: re-seals what is not yet in TONGBAN_SEAL_ALG's format and
 * logs what it did (nothing when all is already in that format). Throws, stopping the boot, when a
 * value that must open does not.
 */
export async function resealAtStart(ds: DataSource, options: Pick<KeysOptions, 'keyEncryptionSecret' | 'sealAlg' | 'keyEncryptionSecretPrevious'>, columns: SealedColumn[]): Promise<ResealReport> {
  const logger = new Logger('SecretReseal');
  const report = await resealAtRest(ds, new KeyEncryption(options.keyEncryptionSecret, options.sealAlg, options.keyEncryptionSecretPrevious), columns);
  const done = Object.entries(report.resealed).filter(([, n]) => n > 0);
  if (done.length) logger.log(`re-sealed ${done.map(([name, n]) => `${n} ${name}(s)`).join(' and ')} as ${report.to} (TONGBAN_SEAL_ALG)`);
  for (const [name, ids] of Object.entries(report.kept)) {
    if (ids.length) logger.warn(`${ids.length} ${name}(s) do not open under the current key-encryption secret and were left as they are: ${ids.join(', ')}`);
  }
  return report;
}

/** How many values of each column are in each format (`unknown`: none we write), without opening any. */
export async function sealedFormats(ds: DataSource, columns: SealedColumn[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const column of columns) {
    const counts: Record<string, number> = {};
    for (const row of await ds.getRepository(column.entity).find({ select: [column.sealedProperty] as never })) {
      const sealed = row[column.sealedProperty] as string | null;
      if (!sealed) continue;
      const format = sealedAlgOf(sealed) ?? 'unknown';
      counts[format] = (counts[format] ?? 0) + 1;
    }
    out[column.name] = counts;
  }
  return out;
}
