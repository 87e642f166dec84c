import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse as parseCsv } from 'csv-parse';
import { ValidationException } from '@tongban/common';
import { jsonArrayElements } from './json-array-stream';

/** The records of a licence file, read as a stream, and how far through the file the reading is. */
export interface LicenceFileSource {
  records: AsyncIterable<unknown>;
  /** Share of the file's bytes read so far (0-1); read-ahead makes it run slightly ahead of the records. */
  fraction(): number;
}

/**
 * Opens a JSON (an array of records, or {"licences": [...]}) or CSV (a header row of the same field
 * names) licence file as a stream of raw records: memory stays flat however large the file is.
 */
export function openLicenceFile(path: string): LicenceFileSource {
  const size = statSync(path).size;
  let bytes = 0;
  const fraction = () => (size ? Math.min(1, bytes / size) : 1);
  // Opened when the records are first read (inside the import's transaction), counted as read.
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const b of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
      bytes += b.length;
      yield b;
    }
  }
  if (extname(path).toLowerCase() === '.csv') return { records: csvRecords(chunks), fraction };
  return { records: jsonArrayElements(decoded(chunks()), 'licences'), fraction };
}

async function* decoded(chunks: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  for await (const b of chunks) yield decoder.write(b);
  const rest = decoder.end();
  if (rest) yield rest;
}

async function* csvRecords(chunks: () => AsyncGenerator<Buffer>): AsyncGenerator<unknown> {
  const parser = pipeline(chunks, parseCsv({ columns: true, skip_empty_lines: true, trim: true, bom: true }), () => undefined);
  try {
    for await (const row of parser as AsyncIterable<Record<string, string>>) yield { ...row, validUntil: row.validUntil ? row.validUntil : null };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('CSV_')) throw new ValidationException('file', 'CSV', `file: not valid CSV (${(e as Error).message})`);
    throw e;
  }
}
