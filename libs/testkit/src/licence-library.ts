import type { ChildProcess } from 'node:child_process';

/** A running stand-in licence library (apps/licence-library) started by the launcher. */
export interface StandInLibrary {
  url: string;
  port: number;
  token: string;
  adminToken: string;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** What scripts/lib/licence-library.js exports (plain JS so that `npm start` runs it). */
interface LibraryLauncher {
  MAPPING_FILE: string;
  newLibraryTokens(): { token: string; adminToken: string };
  startLicenceLibrary(o: { seed: string; token: string; adminToken: string; port?: number; state?: string; delayMs?: number; echo?: boolean }): Promise<StandInLibrary>;
  librarySourceEnv(library: StandInLibrary): Record<string, string>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script, typed by LibraryLauncher above
const launcher = require('../../../scripts/lib/licence-library.js') as LibraryLauncher;

/** The stand-in's mapping file (deploy/licence-library/stand-in-mapping.json). */
export const STAND_IN_MAPPING_FILE: string = launcher.MAPPING_FILE;
/** Fresh reader and administrator tokens for a stand-in. */
export const newLibraryTokens = (): { token: string; adminToken: string } => launcher.newLibraryTokens();
/** Starts the stand-in as its own process; resolves once it listens (port 0: any free port). */
export const startLicenceLibrary = (o: Parameters<LibraryLauncher['startLicenceLibrary']>[0]): Promise<StandInLibrary> => launcher.startLicenceLibrary(o);
/** A gateway's settings to answer from `library` through the stand-in's mapping. */
export const librarySourceEnv = (library: StandInLibrary): Record<string, string> => launcher.librarySourceEnv(library);

/** Sets a licence's status IN the stand-in, as its administrator would (ZZZT 有效 | 中止 | 吊销); returns the HTTP status. */
export async function setLibraryStatus(library: StandInLibrary, licenceId: string, zzzt: string, reason: string): Promise<number> {
  const r = await fetch(`${library.url}/admin/zz/${encodeURIComponent(licenceId)}/status`, {
    method: 'POST',
    headers: { authorization: `Bearer ${library.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ZZZT: zzzt, BGYY: reason }),
  });
  await r.arrayBuffer();
  return r.status;
}
