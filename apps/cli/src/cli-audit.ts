import { AuditLog, AuditRecord } from '@tongban/audit';
import { SystemClock, errorMessage } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { openDatabase } from '@tongban/persistence';

type Ds = Awaited<ReturnType<typeof openDatabase>>;

/** The gateway's KeyStore for signing a checkpoint, or undefined before the gateway made its first key. */
async function cliSigner(ds: Ds, clock: SystemClock, config: GatewayConfig): Promise<KeyStore | undefined> {
  if (config.audit.checkpointSeconds === 0) return undefined;
  const keys = new KeyStore(ds, clock, {
    keyEncryptionSecret: config.keyEncryptionSecret,
    keyEncryptionSecretPrevious: config.keyEncryptionSecretPrevious ?? undefined,
    signingAlg: config.signingAlg,
    sealAlg: config.sealAlg,
  });
  try {
    await keys.refresh();
  } catch (e) {
    // The command itself must not fail for this: the gateway seals the entry when it next starts.
    process.stderr.write(`note: the audit entry is not sealed now (${errorMessage(e)}); the gateway seals it when it starts\n`);
    return undefined;
  }
  return keys.list().some((k) => k.status === 'ACTIVE') ? keys : undefined;
}

/** Appends an audit entry written by the CLI and seals it with a signed checkpoint when the gateway has a key. */
export async function recordFromCli(ds: Ds, config: GatewayConfig, record: AuditRecord): Promise<void> {
  const clock = new SystemClock();
  const signer = await cliSigner(ds, clock, config);
  const audit = new AuditLog(ds, clock, signer, config.code, { checkpointEverySeconds: 0, checkpointFile: config.audit.checkpointFile, hashAlg: config.audit.hash });
  await audit.recordNow(record);
  // Seal the entry now, so it does not wait (perhaps longer than the checkpoint interval) for a gateway to start.
  if (signer) {
    await audit.checkpoint().catch((e: unknown) => process.stderr.write(`note: the audit entry is not sealed now (${errorMessage(e)}); the gateway seals it within its checkpoint interval\n`));
  }
}
