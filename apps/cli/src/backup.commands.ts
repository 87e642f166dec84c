import { Command } from 'commander';
import { CommandResult, RestoredRecord, backupCheckCommand, backupSqliteCommand, markPostgresRestored, restoreSqlite } from '@tongban/backup';
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
    if (c.database.kind !== 'sqlite')
      throw new Error(
        `${what} works on the SQLite file; on PostgreSQL the DBA backs up with pg_dump or PITR (docs/operations.md §8.3) and, after restoring, runs \`tongban restore --postgres --mark-restored\` (§8.4)`,
      );
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
    .description(
      'check a backup: SQLite integrity, manifest, same gateway code, no newer schema, manifest matches the data; a pg_dump archive: readable, one gateway schema, no newer schema, its facts (exit 0 OK, 1 not)',
    )
    .action(async (file: string) => {
      let code: string | null = null;
      let schema: string | undefined;
      try {
        const c = config();
        code = c.code;
        if (c.database.kind === 'postgres') schema = c.database.schema;
      } catch {
        // Checking a copy away from any gateway: the rules that need our code are skipped.
      }
      print(await backupCheckCommand(file, code, schema));
    });
  const ports = (c: GatewayConfig) => [
    { what: 'HTTP', host: c.http.host, port: c.http.port },
    { what: 'gRPC', host: c.grpc.host, port: c.grpc.port },
    { what: 'health', host: c.http.host, port: c.http.healthPort },
  ];
  const record = (r: RestoredRecord) => withDatabase((ds, cfg) => recordFromCli(ds, cfg, { event: 'backup.restored', actor: 'cli', subject: r.subject, outcome: 'OK', details: r.details }));
  program
    .command('restore [file]')
    .description(
      'SQLite: put a checked backup in place of the database (the gateway must be stopped; the old file is kept aside). PostgreSQL: after the DBA restored the database, --postgres --mark-restored puts the gateway in the restored state (resync with peers at start)',
    )
    .option('--postgres', 'the database is PostgreSQL, restored by the DBA (pg_restore or PITR) before this command')
    .option('--mark-restored', 'with --postgres: record backup.restored, so the gateway resynchronises with its peers when it starts')
    .action(async (file: string | undefined, o: { postgres?: boolean; markRestored?: boolean }) => {
      const c = config();
      if (c.database.kind === 'postgres') {
        if (!o.postgres || !o.markRestored || file)
          throw new Error(
            'on PostgreSQL the DBA restores the database (pg_restore or PITR, docs/operations.md §8.4); then, before any replica starts, run `tongban restore --postgres --mark-restored` (no file)',
          );
        const d = c.database;
        print(
          await markPostgresRestored({ code: c.code, url: d.url, schema: d.schema, applicationName: d.applicationName, ports: ports(c), checkpointFile: c.audit.checkpointFile }, new Date(), record),
        );
        return;
      }
      if (o.postgres || o.markRestored) throw new Error(`--postgres, --mark-restored: this gateway is on SQLite (${c.database.path}); restore with \`tongban restore <file>\``);
      if (!file) throw new Error('<file>: required on SQLite (the backup made by tongban backup)');
      print(await restoreSqlite(file, { code: c.code, sqlitePath: c.database.path, ports: ports(c), checkpointFile: c.audit.checkpointFile }, new Date(), record));
    });
}
