import 'reflect-metadata';
import { Command } from 'commander';
import { AuditCheckpointEntity, AuditEventEntity, auditVerifyCommand } from '@tongban/audit';
import { SystemClock } from '@tongban/common';
import { GatewayConfig, loadGatewayConfig, readNamedSecret } from '@tongban/config';
import { SigningKeyEntity } from '@tongban/keys';
import { WebhookEntity } from '@tongban/webhooks';
import { LICENCE_STATUS_ACTIONS, LicenceEntity, LicenceImporter, LicenceStatusAction, licenceStatusCommand } from '@tongban/licences';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { PeerEntity, PeerKeyEntity } from '@tongban/trust';
import { CommandOutput, anchorKeygenCommand, signDirectoryCommand, verifyDirectoryCommand } from '@tongban/directory';
import { tlsCaCommand, tlsCheckCommand, tlsIssueCommand, tlsShowCommand } from '@tongban/tls';
import { revokeKeyCommand, rotateKeyCommand } from '@tongban/key-admin';
import { registerBackupCommands } from './backup.commands';
import { recordFromCli } from './cli-audit';
import { secretsCommands } from './secrets-commands';

/** `tongban`: the administrator's command line. It works on a gateway's database directly. main.ts parses the command line with it. */
export const program = new Command('tongban')
  .description('Tongban (通办) gateway administration')
  .option('-c, --config <file>', 'gateway config file (JSON); TONGBAN_* environment variables override it');

/** The global `--config` option. */
const configFile = (): string | undefined => program.opts<{ config?: string }>().config;

async function withDatabase<T>(fn: (ds: Awaited<ReturnType<typeof openDatabase>>, config: GatewayConfig) => Promise<T>): Promise<T> {
  const config = loadGatewayConfig(undefined, configFile());
  const ds = await openDatabase(buildDataSource(config.database, [LicenceEntity, SigningKeyEntity, PeerEntity, PeerKeyEntity, AuditEventEntity, AuditCheckpointEntity, WebhookEntity]));
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
    withDatabase(async (ds, config) => {
      const clock = new SystemClock();
      const tty = process.stderr.isTTY;
      let lastShown = -1;
      // The file is streamed, so the share read so far stands in for a total.
      const result = await new LicenceImporter(ds, clock).importFile(file, (done, fraction) => {
        const pct = Math.floor(fraction * 100);
        if (tty) process.stderr.write(`\rimporting: ${done} records (${pct}% of the file read)`);
        else if (pct >= lastShown + 10) {
          process.stderr.write(`importing: ${done} records (${pct}% of the file read)\n`);
          lastShown = pct;
        }
      });
      if (tty) process.stderr.write('\n');
      await recordFromCli(ds, config, { event: 'licences.imported', actor: 'cli', subject: file.slice(-200), outcome: 'OK', details: { ...result } });
      process.stdout.write(`read ${result.read}, created ${result.created}, updated ${result.updated}\n`);
    }),
  );

for (const action of Object.keys(LICENCE_STATUS_ACTIONS) as LicenceStatusAction[]) {
  licences
    .command(`${action} <licenceId>`)
    .description(`${action} a licence of the registry (sets ${LICENCE_STATUS_ACTIONS[action]}; through the running gateway, which audits it and updates status lists and subscribers)`)
    .requiredOption('--reason <text>', 'why (1-200 characters; recorded in the audit trail)')
    .option('--gateway <url>', "the gateway's HTTP URL (default: from its config)")
    .option('--token-env <name>', 'environment variable holding an admin or operator token', 'TONGBAN_ADMIN_TOKEN')
    .action(async (licenceId: string, o: { reason: string; gateway?: string; tokenEnv: string }) => print(await licenceStatusCommand(adminTarget(o), action, licenceId, o)));
}

const keys = program.command('keys').description("this gateway's signing keys (public parts only)");
keys.command('list').action(() =>
  withDatabase(async (ds) => {
    const rows = await ds.getRepository(SigningKeyEntity).find({ order: { createdAt: 'ASC' } });
    for (const r of rows) process.stdout.write(`${r.kid}  ${r.alg.padEnd(5)}  ${r.status.padEnd(8)}  created ${r.createdAt.toISOString()}\n`);
    if (!rows.length) process.stdout.write('no keys yet: the gateway generates its first key when it starts\n');
  }),
);

// Secrets at rest (docs/operations.md §4.1, §4.1b): status, reseal and rotate.
secretsCommands(program, withDatabase);

// Rotation and revocation go through the running gateway (it announces them to every peer).
const adminTarget = (o: { gateway?: string; tokenEnv: string }) => {
  const token = readNamedSecret(o.tokenEnv);
  if (!token) throw new Error(`${o.tokenEnv} is not set: the command needs an administrator token (or name another variable with --token-env)`);
  if (o.gateway) return { url: o.gateway, token };
  const config = loadGatewayConfig(undefined, configFile());
  const host = ['0.0.0.0', '::'].includes(config.http.host) ? '127.0.0.1' : config.http.host;
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`, token };
};
keys
  .command('rotate')
  .description('rotate the signing key: a new key is announced to every peer and signs after the overlap (TONGBAN_KEY_OVERLAP_HOURS, default 24 h)')
  .option('--immediate', 'sign with the new key at once (peers may refuse calls until the announcement reaches them)')
  .option('--overlap-hours <hours>', 'overlap before the new key signs (0-720)')
  .option('--alg <alg>', 'algorithm of the new key: EdDSA, ES256 or SM2SM3 (default: TONGBAN_SIGNING_ALG of the gateway)')
  .option('--gateway <url>', "the gateway's HTTP URL (default: from its config)")
  .option('--token-env <name>', 'environment variable holding an admin token', 'TONGBAN_ADMIN_TOKEN')
  .action(async (o: { immediate?: boolean; overlapHours?: string; alg?: string; gateway?: string; tokenEnv: string }) => print(await rotateKeyCommand(adminTarget(o), o)));
keys
  .command('revoke <kid>')
  .description('revoke one of our keys (compromise): announced to every peer; a replacement is made when it was the active key')
  .requiredOption('--reason <text>', 'why (recorded in the audit trail and sent to peers)')
  .option('--gateway <url>', "the gateway's HTTP URL (default: from its config)")
  .option('--token-env <name>', 'environment variable holding an admin token', 'TONGBAN_ADMIN_TOKEN')
  .action(async (kid: string, o: { reason: string; gateway?: string; tokenEnv: string }) => print(await revokeKeyCommand(adminTarget(o), kid, o)));

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

const auditCommand = program.command('audit').description('the audit trail of this gateway');
const collectFiles = (v: string, all: string[]) => [...all, v];
auditCommand
  .command('verify')
  .description(
    'prove the audit trail: hash chain, checkpoints signed by keys from outside the database, their spacing, and exported copies; exit 0 proven, 2 tampered, 3 not proven, 1 could not check',
  )
  .option('--jwks <file>', 'public keys from outside the database: a JWK Set, or {"keys":[{"kid","status","jwk"}]} (a peer\'s view of us: GET /admin/peers/<our code>)')
  .option('--jwks-url <url>', 'fetch that key document instead, e.g. from a peer: https://peer/admin/peers/<our code>')
  .option('--token-env <name>', 'environment variable holding a bearer token for --jwks-url')
  .option('--checkpoints <file>', 'an exported checkpoint trail (TONGBAN_AUDIT_CHECKPOINT_FILE) to compare with the database; repeatable', collectFiles, [])
  .option('--interval-seconds <s>', 'the checkpoint interval the gateway ran with (default: TONGBAN_AUDIT_CHECKPOINT_S)')
  .option('--interval-entries <n>', 'the checkpoint interval in entries (default: TONGBAN_AUDIT_CHECKPOINT_ENTRIES)')
  .action((o: { jwks?: string; jwksUrl?: string; tokenEnv?: string; checkpoints: string[]; intervalSeconds?: string; intervalEntries?: string }) =>
    withDatabase(async (ds, config) => {
      const token = o.tokenEnv ? readNamedSecret(o.tokenEnv) : undefined;
      if (o.tokenEnv && !token) throw new Error(`${o.tokenEnv} is not set (--token-env names the variable holding the token)`);
      print(
        await auditVerifyCommand(ds, {
          code: config.code,
          jwksFile: o.jwks,
          jwksUrl: o.jwksUrl,
          token,
          checkpointFiles: o.checkpoints,
          intervalSeconds: count('--interval-seconds', o.intervalSeconds, config.audit.checkpointSeconds),
          intervalEntries: count('--interval-entries', o.intervalEntries, config.audit.checkpointEntries),
          now: Date.now(),
        }),
      );
    }),
  );

/** A whole number option, or its default. */
function count(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new Error(`${name}: must be a whole number ≥ 0 (got ${value})`);
  return n;
}

// The federation directory (national trust anchor): offline commands, no gateway config or database.
const print = (o: CommandOutput) => {
  process.stdout.write(o.stdout);
  process.stderr.write(o.stderr);
  process.exitCode = o.exitCode;
};
const directory = program.command('directory').description('the signed federation directory (trust anchor key, sign, verify)');
directory
  .command('keygen')
  .description("generate the trust anchor's key (Ed25519, or SM2 with --alg SM2SM3): writes the PRIVATE JWK (mode 0600) and prints the public JWK")
  .requiredOption('--out <file>', 'where to write the private JWK (a new file; keep it offline)')
  .option('--public-out <file>', 'also write the public JWK to this file')
  .option('--alg <alg>', 'EdDSA (default) or SM2SM3')
  .action((o: { out: string; publicOut?: string; alg?: string }) => print(anchorKeygenCommand(o)));
directory
  .command('sign')
  .description('sign a directory (JSON) with the anchor private key; fills issuedAt, notBefore and notAfter when absent')
  .requiredOption('--key <file>', "the anchor's private JWK")
  .requiredOption('--in <file>', 'the directory document (JSON)')
  .requiredOption('--out <file>', 'where to write the signed directory (.jws)')
  .option('--valid-days <days>', 'validity from notBefore when notAfter is absent', '30')
  .action(async (o: { key: string; in: string; out: string; validDays: string }) => print(await signDirectoryCommand(o)));
directory
  .command('verify <file>')
  .description("check a signed directory with the anchor's public key and print a summary (exit 1 unless valid now)")
  .requiredOption('--anchor <jwk>', "the anchor's public JWK (a file or inline JSON)")
  .action(async (file: string, o: { anchor: string }) => print(await verifyDirectoryCommand(file, o)));

// Mutual TLS between gateways: a small offline CA and gateway certificates. Passphrases come from
// environment variables the administrator names (never from the command line, which `ps` shows).
const tls = program.command('tls').description('certificates for mutual TLS between gateways (offline CA, issue, show)');
const collect = (v: string, all: string[]) => [...all, ...v.split(',').filter(Boolean)];
tls
  .command('ca')
  .description('create a federation CA: <out>/ca.pem (give to every gateway: TONGBAN_TLS_CA) and <out>/ca.key (encrypted, 0600, keep offline)')
  .requiredOption('--out <dir>', 'directory to write ca.pem and ca.key to (never over existing files)')
  .option('--name <name>', 'the CA common name', 'Tongban federation CA')
  .option('--days <days>', 'validity in days', '3650')
  .option('--passphrase-env <name>', 'environment variable holding the passphrase for ca.key', 'CA_KEY_PASSPHRASE')
  .action(async (o: { out: string; name: string; days: string; passphraseEnv: string }) => print(await tlsCaCommand(o, readNamedSecret(o.passphraseEnv))));
tls
  .command('issue')
  .description('issue gateway certificates (server and client auth, naming the participant): <out>/<code>.pem and <out>/<code>.key (encrypted, 0600)')
  .requiredOption('--ca <dir>', 'the CA directory (ca.pem, ca.key)')
  .requiredOption('--code <code>', 'participant code; repeat or comma-separate for several', collect, [])
  .option('--host <name>', 'DNS name or IP address the gateway is reached at; repeatable', collect, [])
  .option('--days <days>', 'validity in days', '90')
  .requiredOption('--out <dir>', 'directory to write the certificate and key to')
  .option('--renew-within <days>', 'keep an existing certificate unless it expires within this many days (else refuse to overwrite)')
  .option('--ca-passphrase-env <name>', 'environment variable holding the passphrase of ca.key', 'CA_KEY_PASSPHRASE')
  .option('--key-passphrase-env <name>', "environment variable holding the passphrase for the gateway's key (the gateway reads TONGBAN_TLS_KEY_PASSPHRASE)", 'TONGBAN_TLS_KEY_PASSPHRASE')
  .action(async (o: { ca: string; code: string[]; host: string[]; days: string; out: string; renewWithin?: string; caPassphraseEnv: string; keyPassphraseEnv: string }) =>
    print(await tlsIssueCommand(o, readNamedSecret(o.caPassphraseEnv), readNamedSecret(o.keyPassphraseEnv))),
  );
tls
  .command('check')
  .description("run the gateway's start-up checks on its TLS files (participant, validity, key, CA chain, encryption in production) without starting it")
  .option('--cert <file>', 'certificate chain (default: TONGBAN_TLS_CERT)')
  .option('--key <file>', 'private key (default: TONGBAN_TLS_KEY; passphrase from TONGBAN_TLS_KEY_PASSPHRASE)')
  .option('--ca <file>', 'trusted CA bundle (default: TONGBAN_TLS_CA)')
  .action((o: { cert?: string; key?: string; ca?: string }) => {
    const config = loadGatewayConfig(undefined, configFile());
    const t = config.transport.kind === 'mtls' ? config.transport : undefined;
    const files = { certFile: o.cert ?? t?.certFile, keyFile: o.key ?? t?.keyFile, caFile: o.ca ?? t?.caFile, keyPassphrase: t?.keyPassphrase ?? readNamedSecret('TONGBAN_TLS_KEY_PASSPHRASE') };
    if (!files.certFile || !files.keyFile || !files.caFile) throw new Error('give --cert, --key and --ca, or configure TONGBAN_TLS_CERT, TONGBAN_TLS_KEY and TONGBAN_TLS_CA');
    print(tlsCheckCommand(files as { certFile: string; keyFile: string; caFile: string; keyPassphrase?: string }, config.code, config.env === 'production'));
  });
tls
  .command('show <file>')
  .description('what a certificate file says: participant, names, validity, SHA-256, issuer')
  .action((file: string) => print(tlsShowCommand(file)));

registerBackupCommands(program, configFile, withDatabase);
