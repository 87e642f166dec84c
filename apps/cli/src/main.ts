#!/usr/bin/env node
import 'reflect-metadata';
import { Command } from 'commander';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { DomainException, SystemClock } from '@tongban/common';
import { ConfigError, GatewayConfig, loadGatewayConfig } from '@tongban/config';
import { SigningKeyEntity } from '@tongban/keys';
import { LicenceEntity, LicenceImporter } from '@tongban/licences';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { PeerEntity, PeerKeyEntity } from '@tongban/trust';

/** `tongban`: the administrator's command line. It works on a gateway's database directly. */
const program = new Command('tongban')
  .description('Tongban (通办) gateway administration')
  .option('-c, --config <file>', 'gateway config file (JSON); TONGBAN_* environment variables override it');

async function withDatabase<T>(fn: (ds: Awaited<ReturnType<typeof openDatabase>>, config: GatewayConfig) => Promise<T>): Promise<T> {
  const config = loadGatewayConfig(undefined, program.opts().config);
  const ds = await openDatabase(buildDataSource(config.database, [LicenceEntity, SigningKeyEntity, PeerEntity, PeerKeyEntity, AuditEventEntity]));
  try {
    return await fn(ds, config);
  } finally {
    await ds.destroy();
  }
}

const licences = program.command('licences').description('the licence registry of this province');
licences
  .command('import <file>')
  .description('import licences from a JSON array or a CSV file with a header row; idempotent by licenceId')
  .action((file: string) =>
    withDatabase(async (ds) => {
      const clock = new SystemClock();
      const tty = process.stderr.isTTY;
      let lastShown = -1;
      const result = await new LicenceImporter(ds, clock).importFile(file, (done, total) => {
        const pct = Math.floor((done / total) * 100);
        if (tty) process.stderr.write(`\rimporting ${done}/${total} (${pct}%)`);
        else if (pct >= lastShown + 10 || done === total) {
          process.stderr.write(`importing ${done}/${total} (${pct}%)\n`);
          lastShown = pct;
        }
      });
      if (tty) process.stderr.write('\n');
      const audit = new AuditLog(ds, clock);
      await audit.recordNow({ event: 'licences.imported', actor: 'cli', subject: file.slice(-200), outcome: 'OK', details: { ...result } });
      process.stdout.write(`read ${result.read}, created ${result.created}, updated ${result.updated}\n`);
    }),
  );

program
  .command('keys')
  .description("this gateway's signing keys (public parts only)")
  .command('list')
  .action(() =>
    withDatabase(async (ds) => {
      const rows = await ds.getRepository(SigningKeyEntity).find({ order: { createdAt: 'ASC' } });
      for (const r of rows) process.stdout.write(`${r.kid}  ${r.alg.padEnd(5)}  ${r.status.padEnd(8)}  created ${r.createdAt.toISOString()}\n`);
      if (!rows.length) process.stdout.write('no keys yet: the gateway generates its first key when it starts\n');
    }),
  );

program
  .command('peers')
  .description('peers in the trust store')
  .command('list')
  .action(() =>
    withDatabase(async (ds) => {
      const peers = await ds.getRepository(PeerEntity).find({ order: { code: 'ASC' } });
      const keys = await ds.getRepository(PeerKeyEntity).find();
      for (const p of peers) {
        const ks = keys.filter((k) => k.peerCode === p.code).map((k) => `${k.kid.slice(0, 12)}…(${k.status})`);
        process.stdout.write(`${p.code}  ${p.name}  ${p.endpoint}  ${p.status}  types=${p.allowedLicenceTypes.join(',')}  keys=${ks.join(' ')}\n`);
      }
    }),
  );

program.parseAsync(process.argv).catch((e) => {
  if (e instanceof ConfigError) process.stderr.write(`tongban: configuration error: ${e.message}\n`);
  else if (e instanceof DomainException) process.stderr.write(`tongban: ${e.code}: ${e.message}\n`);
  else process.stderr.write(`tongban: ${e?.message ?? e}\n`);
  process.exit(1);
});
