import { open, readFile } from 'node:fs/promises';
import { AuditChainCheckpoint } from './audit-chain';
import { ExportedCheckpoint } from './audit-chain.verifier';

/**
 * The checkpoint trail kept outside the database: one JSON object per line
 * `{"seq","hash","at","kid","signature"}`, appended and fsynced as each checkpoint is made, so that
 * someone who can write the database cannot also remove what was already sealed.
 */
export async function appendCheckpointLine(file: string, c: { seq: number; hash: string; at: number; kid: string; signature: string }): Promise<void> {
  const line = JSON.stringify({ seq: c.seq, hash: c.hash, at: c.at, kid: c.kid, signature: c.signature }) + '\n';
  const fh = await open(file, 'a', 0o640);
  try {
    await fh.write(line);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Raised when an exported trail cannot be read as one; the message names the file and line. */
export class CheckpointExportError extends Error {}

/**
 * Reads an exported trail. A last line without its newline that does not parse is a write cut
 * short by a crash: it is left out and reported in `notes`. Any other unreadable line is an error.
 */
export async function readExportedCheckpoints(file: string): Promise<{ checkpoints: ExportedCheckpoint[]; notes: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CheckpointExportError(`${file}: cannot read the exported checkpoints (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split('\n');
  const torn = !text.endsWith('\n') && text.length > 0;
  const checkpoints: ExportedCheckpoint[] = [];
  const notes: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const source = `${file}:${i + 1}`;
    const c = parseLine(line);
    if (c) checkpoints.push({ ...c, source });
    else if (torn && i === lines.length - 1) notes.push(`${source}: incomplete last line ignored (a write cut short)`);
    else throw new CheckpointExportError(`${source}: not an exported checkpoint (expected {"seq","hash","at","kid","signature"})`);
  }
  return { checkpoints, notes };
}

function parseLine(line: string): AuditChainCheckpoint | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o)) return undefined;
  if (!Number.isSafeInteger(o.seq) || !Number.isSafeInteger(o.at) || typeof o.hash !== 'string' || typeof o.kid !== 'string' || typeof o.signature !== 'string') return undefined;
  return { seq: o.seq as number, hash: o.hash, at: o.at as number, kid: o.kid, signature: o.signature };
}
