import { InitialSchema1764100000000 } from './1764100000000-initial-schema';
import { Delivery1764200000000 } from './1764200000000-delivery';

/** Every migration, in order. One set for SQLite and PostgreSQL. */
export const MIGRATIONS = [InitialSchema1764100000000, Delivery1764200000000];
