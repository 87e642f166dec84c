import { Command } from 'commander';
import { CommandResult, backupCheckCommand, backupSqliteCommand, restoreSqlite } from '@tongban/backup';
import { GatewayConfig, loadGatewayConfig } from '@tongban/config';
import { openDatabase } from '@tongban/persistence';
import { recordFromCli } from './cli-audit';

type WithDatabase = <T>(fn: (ds: Awaited<ReturnType<typeof openDatabase>>, config: GatewayConfig) => Promise<T>) => Promise<T>;

import { version } from '../../../package.json';

/** Gateway build recorded in each manifest. */
const TOOL = `tongban ${version}`;

const print = (o: CommandResult) => {
  process.stdout.write(o.stdout);
  process.stderr.write(o.stderr);
  process.exitCode = o.exitCode;
};

/** `tongban backup`, `tongban backup check` and `tongban restore` (docs/operations.md §8). */
export function registerBackupCommands(program: Command, configFile: () => string | undefined, withDatabase: WithDatabase): void {
  const config = () => loadGatewayConfig(undefined, configFile());
  const sqlite = (c: GatewayConfig, what: string) => {
    if (c.database.kind !== 'sqlite') throw new Error(`${what} works on the SQLite file; on PostgreSQL follow docs/operations.md §8.3 (pg_dump) and §8.4 (pg_restore)`);
    return c.database.path;
  };
  const backup = program
    .command('backup')
    .description("a consistent copy of the gateway's database while it serves (SQLite online backup API), with a manifest")
    .option('--out <file>', 'where to write the backup (a new file)')
    .action(async (o: { out?: string }) => {
      if (!o.out) throw new Error('--out <file>: required (where to write the backup)');
      const c = config();
      print(await backupSqliteCommand(sqlite(c, 'tongban backup'), o.out, { code: c.code, tool: TOOL, now: new Date() }));
    });
  backup
    .command('check <file>')
    .description('check a backup: SQLite integrity, manifest, same gateway code, no newer schema, manifest matches the data (exit 0 OK, 1 not)')
    .action(async (file: string) => {
      let code: string | null = null;
      try {
        code = config().code;
      } catch {
        // Checking a copy away from any gateway: the rules that need our code are skipped.
      }
      print(await backupCheckCommand(file, code));
    });
  program
    .command('restore <file>')
    .description('put a checked backup in place of the database (the gateway must be stopped); the old file is kept aside')
    .action(async (file: string) => {
      const c = config();
      const result = await restoreSqlite(
        file,
        {
          code: c.code,
          sqlitePath: sqlite(c, 'tongban restore'),
          ports: [
            { what: 'HTTP', host: c.http.host, port: c.http.port },
            { what: 'gRPC', host: c.grpc.host, port: c.grpc.port },
            { what: 'health', host: c.http.host, port: c.http.healthPort },
          ],
          checkpointFile: c.audit.checkpointFile,
        },
        new Date(),
        (r) => withDatabase((ds, cfg) => recordFromCli(ds, cfg, { event: 'backup.restored', actor: 'cli', subject: r.subject, outcome: 'OK', details: r.details })),
      );
      print(result);
    });
}
