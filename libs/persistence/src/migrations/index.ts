import { InitialSchema1764100000000 } from './1764100000000-initial-schema';

/** Every migration, in order. One set for SQLite and PostgreSQL. */
export const MIGRATIONS = [InitialSchema1764100000000];
