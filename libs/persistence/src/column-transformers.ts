import { ValueTransformer } from 'typeorm';

/**
 * Times are stored as epoch milliseconds in a BIGINT column so that one migration set fits
 * SQLite and PostgreSQL alike; `pg` returns BIGINT as a string, hence the conversion.
 */
export const epochMs: ValueTransformer = {
  to: (value: Date | null | undefined) => (value == null ? value : value.getTime()),
  from: (value: string | number | null) => (value == null ? null : new Date(Number(value))),
};

/** A JSON document kept in a TEXT column. */
export const jsonText: ValueTransformer = {
  to: (value: unknown) => (value === undefined ? undefined : JSON.stringify(value)),
  from: (value: string | null): unknown => (value == null ? null : JSON.parse(value)),
};
