import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { LicenceRecord, licenceRecordSchema } from '../licence-record';

const RECORD_FIELDS = [
  'licenceId',
  'typeCode',
  'name',
  'number',
  'issuerOrganName',
  'issuerOrganCode',
  'holderName',
  'holderCode',
  'holderCodeType',
  'issueDate',
  'validFrom',
  'validUntil',
  'status',
  'jurisdictionCode',
] as const;
const TYPE_CODE = /^[0-9A-HJ-NP-RTUWXY]{18}\d{3}$/;
const DATE_FIELDS = new Set(['issueDate', 'validFrom', 'validUntil']);
const name = z.string().min(1).max(200);
const template = (...params: string[]) =>
  z
    .string()
    .startsWith('/', 'must be a path starting with /')
    .refine((t) => params.every((p) => t.includes(`{${p}}`)), { message: `must hold ${params.map((p) => `{${p}}`).join(' and ')}` });

/** The mapping file (docs/licence-library.md §3): how to ask the library, and what its answers mean. */
const mappingSchema = z
  .object({
    lookup: z
      .object({
        byId: template('licenceId'),
        byNumber: template('typeCode', 'number'),
        // Where the record is in a 200 answer: a dotted property path, '' for the body itself.
        record: z.string().max(200).default(''),
      })
      .strict(),
    fields: z.object(Object.fromEntries(RECORD_FIELDS.map((f) => [f, name])) as Record<(typeof RECORD_FIELDS)[number], typeof name>).strict(),
    // Library value → GB/T 36903 value, per field; a value not listed is refused.
    values: z.partialRecord(z.enum(RECORD_FIELDS), z.record(z.string(), z.string())).default({}),
    dates: z
      .object({ format: z.enum(['YYYY-MM-DD', 'YYYYMMDD']).default('YYYY-MM-DD'), noExpiry: z.array(z.string()).default([]) })
      .strict()
      .default({ format: 'YYYY-MM-DD', noExpiry: [] }),
    feed: z
      .object({
        path: template('cursor', 'limit'),
        changes: z.string().max(200),
        nextCursor: z.string().min(1).max(200),
        // `cursor`: the change's own position, when the feed gives one (resume exactly after it).
        fields: z.object({ licenceId: name, typeCode: name, status: name, changedAt: name, reason: name, cursor: name.optional() }).strict(),
      })
      .strict()
      .optional(),
    // The full listing for the initial synchronisation (§5.2): pages of records from {cursor} ('' first),
    // the page cursor to ask with next ('' or missing when done), and the feed position the listing reflects.
    list: z
      .object({
        path: template('cursor', 'limit'),
        records: z.string().max(200),
        nextCursor: z.string().min(1).max(200),
        feedCursor: z.string().min(1).max(200),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((m) => !m.list || m.feed, { path: ['list'], message: 'needs feed: the listing hands over to the change feed' });

/** A checked mapping file. */
export type LibraryMapping = z.infer<typeof mappingSchema>;

/** A change of status as the library's feed reports it, in our terms. */
export interface LibraryChange {
  licenceId: string;
  typeCode: string;
  status: 'VALID' | 'SUSPENDED' | 'REVOKED';
  changedAt: Date;
  reason: string;
}

/** A library answer that does not fit the mapping; the message names our field, never a value. */
export class LibraryMappingError extends Error {}

/** Reads and checks a mapping file; the error names the file and the first field that is wrong. */
export function loadLibraryMapping(file: string): LibraryMapping {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LibraryMappingError(`licence library mapping ${file} cannot be read as JSON: ${(e as Error).message}`);
  }
  return parseLibraryMapping(json, file);
}

/** Checks a mapping object (see loadLibraryMapping). */
export function parseLibraryMapping(json: unknown, where = 'mapping'): LibraryMapping {
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LibraryMappingError(`licence library mapping ${where}: ${issue.path.join('.') || '(top)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The request path for a template, each `{param}` replaced by its URL-encoded value. */
export function libraryPath(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(String(params[k] ?? '')));
}

/** The value at a dotted property path ('' = the value itself). */
export function pick(value: unknown, path: string): unknown {
  if (!path) return value;
  let v = value;
  for (const key of path.split('.')) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
  return v;
}

/**
 * A record of the library as a LicenceRecord: fields renamed, values and dates translated, then
 * checked like an imported record. Throws LibraryMappingError (naming our field) when it does not fit.
 */
export function mapLibraryRecord(raw: unknown, m: LibraryMapping): LicenceRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LibraryMappingError('the library answered with no record object');
  const src = raw as Record<string, unknown>;
  const out: Record<string, string | null> = {};
  for (const field of RECORD_FIELDS) out[field] = translate(field, src[m.fields[field]], m);
  const checked = licenceRecordSchema.safeParse(out);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new LibraryMappingError(`the library's record does not check: ${issue.path.join('.') || 'record'}: ${issue.message}`);
  }
  return checked.data;
}

/** One feed entry in our terms (see mapLibraryRecord for errors). */
export function mapLibraryChange(raw: unknown, m: LibraryMapping): LibraryChange {
  const f = m.feed!.fields;
  if (typeof raw !== 'object' || raw === null) throw new LibraryMappingError('a feed entry is not an object');
  const src = raw as Record<string, unknown>;
  const licenceId = src[f.licenceId];
  const typeCode = src[f.typeCode];
  const status = translate('status', src[f.status], m);
  const at = src[f.changedAt];
  const changedAt = new Date(typeof at === 'string' || typeof at === 'number' ? at : NaN);
  const reason = src[f.reason];
  if (typeof licenceId !== 'string' || !licenceId) throw new LibraryMappingError('feed entry: licenceId is missing');
  if (typeof typeCode !== 'string' || !TYPE_CODE.test(typeCode)) throw new LibraryMappingError('feed entry: typeCode is not a GB/T 36904 type code');
  if (status !== 'VALID' && status !== 'SUSPENDED' && status !== 'REVOKED') throw new LibraryMappingError('feed entry: status must map to VALID, SUSPENDED or REVOKED');
  if (Number.isNaN(changedAt.getTime())) throw new LibraryMappingError('feed entry: changedAt is not a time');
  return { licenceId, typeCode, status, changedAt, reason: typeof reason === 'string' && reason ? reason.slice(0, 200) : '(no reason given by the library)' };
}

/** The status part of a record of the library's full listing (licence, type, status), in our terms. */
export function mapLibraryStatus(raw: unknown, m: LibraryMapping): { licenceId: string; typeCode: string; status: LibraryChange['status'] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LibraryMappingError('a listed record is not an object');
  const src = raw as Record<string, unknown>;
  const licenceId = src[m.fields.licenceId];
  const typeCode = src[m.fields.typeCode];
  const status = translate('status', src[m.fields.status], m);
  if (typeof licenceId !== 'string' || !licenceId) throw new LibraryMappingError('listed record: licenceId is missing');
  if (typeof typeCode !== 'string' || !TYPE_CODE.test(typeCode)) throw new LibraryMappingError('listed record: typeCode is not a GB/T 36904 type code');
  if (status !== 'VALID' && status !== 'SUSPENDED' && status !== 'REVOKED') throw new LibraryMappingError('listed record: status must map to VALID, SUSPENDED or REVOKED');
  return { licenceId, typeCode, status };
}

function translate(field: (typeof RECORD_FIELDS)[number], value: unknown, m: LibraryMapping): string | null {
  if (value === undefined || value === null) {
    if (field === 'validUntil') return null;
    throw new LibraryMappingError(`the library's record has no ${field} (${m.fields[field]})`);
  }
  if (typeof value !== 'string' && typeof value !== 'number') throw new LibraryMappingError(`the library's ${field} (${m.fields[field]}) is not a string`);
  let v = String(value);
  const map = m.values[field];
  if (map) {
    if (!(v in map)) throw new LibraryMappingError(`the library's ${field} (${m.fields[field]}) has a value the mapping does not list`);
    v = map[v];
  }
  if (DATE_FIELDS.has(field)) {
    if (field === 'validUntil' && (v === '' || m.dates.noExpiry.includes(v))) return null;
    if (m.dates.format === 'YYYYMMDD') {
      if (!/^\d{8}$/.test(v)) throw new LibraryMappingError(`the library's ${field} (${m.fields[field]}) is not a YYYYMMDD date`);
      v = `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6)}`;
    }
  }
  return v;
}
