/** What a command prints and its exit code (the CLI writes them; tests read them). */
export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}
