export * from './column-transformers';
export * from './data-source.factory';
export { MIGRATIONS } from './migrations';
export { DataSource } from 'typeorm';
export * from './retention';
export { runInTransaction, afterCommit } from './transaction';
export { SqliteWriterMisuse, DEFAULT_SQLITE_WRITE_WAIT_MS } from './sqlite-writer';
export { isConnectionLost, asDatabaseFault, databaseFaultCounts, DatabaseFaultKind } from './database-faults';
export { databaseStatementCount } from './statement-count';
