/** The message of a thrown value for a log line or a CLI message, whatever was thrown. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The stack of a thrown Error (its message when it has none), or the value as text. */
export function errorStack(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}
