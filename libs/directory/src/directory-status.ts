import { DirectoryRefusalReason } from './directory-verifier';

/** `off`: not configured; `ok`: a valid directory is in use; `degraded`: none yet, or past notAfter within the grace; `expired`: past the grace. */
export type DirectoryMode = 'off' | 'ok' | 'degraded' | 'expired';

/** The last check that failed (cleared by the next check that succeeds). */
export interface DirectoryError {
  reason: DirectoryRefusalReason;
  message: string;
  at: string;
}

/** What `GET /admin/directory` and `GET /health` report. */
export interface DirectoryStatus {
  mode: DirectoryMode;
  serial: number | null;
  notAfter: string | null;
  graceUntil: string | null;
  lastError: DirectoryError | null;
}

/** The status for the directory in use (if any) at `nowMs`. Pure. */
export function directoryStatus(enabled: boolean, current: { serial: number; notAfter: string } | null, nowMs: number, graceMs: number, lastError: DirectoryError | null): DirectoryStatus {
  if (!enabled) return { mode: 'off', serial: null, notAfter: null, graceUntil: null, lastError: null };
  if (!current) return { mode: 'degraded', serial: null, notAfter: null, graceUntil: null, lastError };
  const notAfter = Date.parse(current.notAfter);
  const graceUntil = notAfter + graceMs;
  const mode: DirectoryMode = nowMs <= notAfter ? 'ok' : nowMs <= graceUntil ? 'degraded' : 'expired';
  return { mode, serial: current.serial, notAfter: new Date(notAfter).toISOString(), graceUntil: new Date(graceUntil).toISOString(), lastError };
}
