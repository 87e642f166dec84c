import { ValueTransformer } from 'typeorm';

/**
 * Times are stored as epoch milliseconds in a BIGINT column so that one migration set fits
 * SQLite and PostgreSQL alike; `pg` returns BIGINT as a string, hence the conversion.
 */
export const epochMs: ValueTransformer = {
  to: (value: Date | null | undefined) => {
    if (value == null) return value;
    const ms = value.getTime();
    // An Invalid Date would be NULL on SQLite (better-sqlite3 binds NaN so) and an error on PostgreSQL.
    if (Number.isNaN(ms)) throw new TypeError('cannot write an Invalid Date');
    return ms;
  },
  from: (value: string | number | null) => (value == null ? null : new Date(Number(value))),
};

/** A JSON document kept in a TEXT column. */
export const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : JSON.stringify(value)),
  from: (value: string | null): unknown => (value == null ? null : JSON.parse(value)),
};
