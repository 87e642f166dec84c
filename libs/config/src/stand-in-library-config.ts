import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './gateway-config';

/**
 * Settings of `apps/licence-library`, the STAND-IN for a province's 电子证照 library used by
 * `npm start` and the tests (docs/licence-library.md §5). Not a Tongban gateway: its variables are
 * LICENCE_LIBRARY_*, read here because only libs/config reads the environment.
 */
const schema = z
  .object({
    LICENCE_LIBRARY_HOST: z.string().min(1).default('127.0.0.1'),
    LICENCE_LIBRARY_PORT: z.coerce.number().int().min(0).max(65535).default(8700),
    LICENCE_LIBRARY_TOKEN: z.string().min(16, 'must be at least 16 characters'),
    LICENCE_LIBRARY_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters'),
    // Licences in Tongban's import format (deploy/demo/licences-<code>.json), converted at load.
    LICENCE_LIBRARY_SEED: z.string().min(1),
    // Where statuses and the change log are kept across restarts (JSON); unset: memory only.
    LICENCE_LIBRARY_STATE: z.string().min(1).optional(),
    // Test only: every licence lookup answers this late (a slow library).
    LICENCE_LIBRARY_TEST_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  })
  .strict()
  .refine((v) => v.LICENCE_LIBRARY_TOKEN !== v.LICENCE_LIBRARY_ADMIN_TOKEN, { message: 'must differ from LICENCE_LIBRARY_TOKEN', path: ['LICENCE_LIBRARY_ADMIN_TOKEN'] });

/** The stand-in library's settings. */
export interface StandInLibraryConfig {
  host: string;
  port: number;
  token: string;
  adminToken: string;
  seedFile: string;
  stateFile: string | null;
  testDelayMs: number;
}

/** Reads and checks the stand-in library's LICENCE_LIBRARY_* variables; the error names the variable. */
export function loadStandInLibraryConfig(env: NodeJS.ProcessEnv = process.env): StandInLibraryConfig {
  const picked = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('LICENCE_LIBRARY_') && v !== ''));
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (issue.code === 'unrecognized_keys') throw new ConfigError(`${issue.keys.join(', ')}: unknown setting (known: ${Object.keys(schema.shape).join(', ')})`);
    throw new ConfigError(`${String(issue.path[0] ?? 'LICENCE_LIBRARY_*')}: ${issue.message}`);
  }
  const v = parsed.data;
  return {
    host: v.LICENCE_LIBRARY_HOST,
    port: v.LICENCE_LIBRARY_PORT,
    token: v.LICENCE_LIBRARY_TOKEN,
    adminToken: v.LICENCE_LIBRARY_ADMIN_TOKEN,
    seedFile: resolve(v.LICENCE_LIBRARY_SEED),
    stateFile: v.LICENCE_LIBRARY_STATE ? resolve(v.LICENCE_LIBRARY_STATE) : null,
    testDelayMs: v.LICENCE_LIBRARY_TEST_DELAY_MS,
  };
}
