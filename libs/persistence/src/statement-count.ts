let statements = 0;

/** Counts one statement sent to the database (a round trip on PostgreSQL). */
export function countStatement(): void {
  statements++;
}

/**
 * Statements this process sent to its database since start, BEGIN/COMMIT/SAVEPOINT included
 * (read by the metrics endpoint: tongban_database_statements_total; the cases benchmark divides
 * it by the cases completed).
 */
export function databaseStatementCount(): number {
  return statements;
}
