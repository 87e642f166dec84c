import { existsSync, renameSync } from 'node:fs';
import { CommandResult } from './command-result';

/** A UTC stamp for the names of files a restore moves aside (20261203T093000Z). */
export function restoreStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/**
 * Moves the exported checkpoint trail aside (it names checkpoints of entries the restore removed;
 * the gateway starts a new one). Returns where it went, or null when there was none.
 */
export function moveCheckpointTrailAside(checkpointFile: string | null, stamp: string): string | null {
  if (!checkpointFile || !existsSync(checkpointFile)) return null;
  const moved = `${checkpointFile}.replaced-${stamp}`;
  renameSync(checkpointFile, moved);
  return moved;
}

/** The line both restores end with: what the `backup.restored` entry makes the gateway do at start. */
export const RESTORED_LINE = 'recorded as audit event backup.restored; at start the gateway refuses envelopes issued before now and resynchronises with each peer (docs/operations.md §8.5)';

/** A refused restore: one message on stderr, exit 1. */
export const restoreRefused = (message: string): CommandResult => ({ stdout: '', stderr: `tongban restore: ${message}\n`, exitCode: 1 });
