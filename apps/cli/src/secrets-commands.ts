import { Command } from 'commander';
import { userInfo } from 'node:os';
import { errorMessage } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { KeyEncryption, SIGNING_KEYS_SEALED, resealAtRest, rotateSealed, sealedFormats, sealedKekCounts } from '@tongban/keys';
import { WEBHOOK_SECRETS_SEALED } from '@tongban/webhooks';
import { openDatabase } from '@tongban/persistence';
import { recordFromCli } from './cli-audit';

type WithDatabase = <T>(fn: (ds: Awaited<ReturnType<typeof openDatabase>>, config: GatewayConfig) => Promise<T>) => Promise<T>;

const SEALED = [SIGNING_KEYS_SEALED, WEBHOOK_SECRETS_SEALED];

/** The key-encryption secrets of `config` (current, and the previous one during a rotation). */
const encryptionOf = (config: GatewayConfig) => new KeyEncryption(config.keyEncryptionSecret, config.sealAlg, config.keyEncryptionSecretPrevious ?? undefined);

/** Who runs the command, for the audit trail: `cli:<operating-system user>`. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`.slice(0, 64);
  } catch {
    return 'cli';
  }
}

/**
 * `tongban secrets status|reseal|rotate` (docs/operations.md §4.1, §4.1b): the gateway re-seals a
 * changed TONGBAN_SEAL_ALG at start; these show and do it offline, and move every value to a new
 * key-encryption secret (rotate), on a running gateway or a stopped one.
 */
export function secretsCommands(program: Command, withDatabase: WithDatabase): void {
  const secrets = program.command('secrets').description('signing keys and webhook secrets sealed at rest (TONGBAN_SEAL_ALG, TONGBAN_KEY_ENCRYPTION_SECRET)');
  secrets
    .command('status')
    .description('how many sealed values are in each format and under each key-encryption secret (by kek id; nothing is opened)')
    .action(() =>
      withDatabase(async (ds, config) => {
        for (const [name, counts] of Object.entries(await sealedFormats(ds, SEALED))) {
          const list = Object.entries(counts).map(([format, n]) => `${format} ${n}`);
          process.stdout.write(`${name}s: ${list.length ? list.join(', ') : 'none'}\n`);
        }
        process.stdout.write(`TONGBAN_SEAL_ALG: ${config.sealAlg}\n`);
        const ids = await encryptionOf(config).kekIds();
        let notCurrent = 0;
        let underPrevious = 0;
        for (const [name, counts] of Object.entries(await sealedKekCounts(ds, SEALED))) {
          const list = Object.entries(counts).map(([kek, n]) => `${kek}${kek === ids.current ? ' (current)' : kek === ids.previous ? ' (previous)' : ''} ${n}`);
          process.stdout.write(`${name}s by key-encryption secret: ${list.length ? list.join(', ') : 'none'}\n`);
          for (const [kek, n] of Object.entries(counts)) {
            if (kek !== ids.current) notCurrent += n;
            if (kek === ids.previous) underPrevious += n;
          }
        }
        process.stdout.write(`TONGBAN_KEY_ENCRYPTION_SECRET: ${ids.current}\n`);
        process.stdout.write(`TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS: ${ids.previous ? `${ids.previous}, ${underPrevious} value(s) under it` : 'not set'}\n`);
        process.stdout.write(`values not under the current secret: ${notCurrent}${notCurrent ? ' (tongban secrets rotate)' : ''}\n`);
      }),
    );
  secrets
    .command('reseal')
    .description('re-seal every value not in TONGBAN_SEAL_ALG, in one transaction (what the gateway does at start)')
    .action(() =>
      withDatabase(async (ds, config) => {
        const report = await resealAtRest(ds, encryptionOf(config), SEALED);
        for (const [name, n] of Object.entries(report.resealed)) process.stdout.write(`${name}s re-sealed as ${report.to}: ${n}\n`);
        for (const [name, ids] of Object.entries(report.kept))
          if (ids.length) process.stderr.write(`note: ${ids.length} ${name}(s) do not open under the current key-encryption secret and were left as they are: ${ids.join(', ')}\n`);
      }),
    );
  secrets
    .command('rotate')
    .description(
      're-seal every value under TONGBAN_KEY_ENCRYPTION_SECRET that is under another secret (TONGBAN_KEY_ENCRYPTION_SECRET_PREVIOUS), one row at a time; safe on a running gateway, and to run again after a crash',
    )
    .action(() =>
      withDatabase(async (ds, config) => {
        const encryption = encryptionOf(config);
        const ids = await encryption.kekIds();
        const actor = cliActor();
        const audit = { recordNow: (record: Parameters<typeof recordFromCli>[2]) => recordFromCli(ds, config, record) };
        const from = ids.previous ?? 'none';
        await audit.recordNow({ event: 'secrets.rotation.started', actor, subject: ids.current, outcome: 'OK', details: { previous: from } });
        process.stdout.write(`rotating to key-encryption secret ${ids.current} (previous: ${from})\n`);
        let report;
        try {
          report = await rotateSealed(ds, encryption, SEALED, {
            pauseAfterRows: config.testRotatePauseAfter,
            onPause: (rows) => {
              process.stderr.write(`paused after ${rows} row(s) (TONGBAN_TEST_ROTATE_PAUSE_AFTER, test only)\n`);
              return new Promise<void>(() => setInterval(() => undefined, 60_000));
            },
          });
        } catch (e) {
          await audit.recordNow({ event: 'secrets.rotated', actor, subject: ids.current, outcome: 'FAILED', reason: 'UNOPENABLE', details: { previous: from, error: errorMessage(e).slice(0, 300) } });
          throw e;
        }
        const rows = Object.values(report.rotated).reduce((a, b) => a + b, 0);
        const kept = Object.values(report.kept).reduce((a, b) => a + b.length, 0);
        const details: Record<string, string | number> = { previous: from, rows, kept };
        for (const [name, n] of Object.entries(report.rotated)) details[name.replace(' ', '_') + 's'] = n;
        for (const [kek, n] of Object.entries(report.from)) details[`from_${kek}`] = n;
        await audit.recordNow({ event: 'secrets.rotated', actor, subject: ids.current, outcome: 'OK', details });
        for (const [name, n] of Object.entries(report.rotated))
          process.stdout.write(`${name}s re-sealed under ${report.to}: ${n}${report.labelled[name] ? ` (and ${report.labelled[name]} already under it, labelled)` : ''}\n`);
        for (const [name, idsKept] of Object.entries(report.kept))
          if (idsKept.length) process.stderr.write(`note: ${idsKept.length} ${name}(s) open under neither secret and were left as they are (register them again): ${idsKept.join(', ')}\n`);
        const remaining = Object.values(await sealedKekCounts(ds, SEALED)).reduce((sum, counts) => sum + Object.entries(counts).reduce((s, [kek, n]) => s + (kek === ids.current ? 0 : n), 0), 0);
        process.stdout.write(`values not under the current secret: ${remaining}\n`);
      }),
    );
}
