import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CaseEntity, CaseMessage } from '@tongban/cases';
import { Clock, DomainException, LeasedWorker, toStorableText } from '@tongban/common';
import { DELIVERY_OPTIONS, DeliveryOptions } from '@tongban/delivery';
import { FEDERATION_OPTIONS, FederationOptions, PeerClient } from '@tongban/federation';
import { Metrics } from '@tongban/observability';
import { MaterialHeader, MaterialReceiptPayload } from '@tongban/proto';
import { CaseMaterialEntity } from './case-material.entity';
import { MaterialStore } from './material-store.service';
import { MaterialTransferEntity } from './material-transfer.entity';
import { MATERIALS_OPTIONS, MaterialsOptions, STREAM_CHUNK_BYTES } from './materials.options';
import { claimLeases, ClaimRequest, LeaseClaim, leaseFor } from '@tongban/persistence';

const CLAIM_BATCH = 16;
/** Files are large: few in flight at once, whatever the delivery concurrency. */
const MAX_IN_FLIGHT = 4;

/**
 * The material pusher's claim: due transfers, earliest first (partial index
 * `ix_material_transfers_pending_due`, PENDING only, so the walk stops at `limit`). A push waits
 * while the case's CaseOpened to that peer is still queued: until it lands, the peer does not know
 * the case and would refuse the material (OUT_OF_ORDER). That check is a correlated scalar
 * subquery probing the case's stream (`uq_outbox_peer_stream_seq`; the status test is not one a status
 * index can serve); as NOT EXISTS, PostgreSQL planned it as a scan of the whole pending outbox per
 * transfer (see outboxClaim).
 */
export function materialClaim(c: ClaimRequest): LeaseClaim {
  return {
    key: '(material_id, peer)',
    candidates: `SELECT t.material_id, t.peer FROM material_transfers t
           JOIN case_materials m ON m.storage_id = t.material_id
           JOIN cases c ON c.id = m.case_id
          WHERE t.status = 'PENDING' AND t.next_attempt_at <= :now
            AND (t.lease_until IS NULL OR t.lease_until < :now)
            AND (SELECT 1 FROM outbox_messages o
                  WHERE o.peer = t.peer AND o.stream = c.collaboration_id AND o.type = :opened AND o.status NOT IN ('DELIVERED', 'DEAD') LIMIT 1) IS NULL
          ORDER BY t.next_attempt_at, t.created_at
          LIMIT ${Number(c.limit)}${c.postgres ? ' FOR UPDATE OF t SKIP LOCKED' : ''}`,
    params: { now: c.now, opened: CaseMessage.Opened },
    ...leaseFor(c),
  };
}

/**
 * Pushes queued materials to participants with the PushMaterial stream, the way the Dispatcher
 * sends outbox messages: a claim is a lease written to the row (FOR UPDATE SKIP LOCKED on
 * PostgreSQL), failures retry with exponential backoff and full jitter (DELIVERY_OPTIONS), and past
 * the dead-letter age a transfer is parked as DEAD, never dropped. Success = the peer's signed
 * receipt echoing the file's SHA-256 and size, which is stored. A transfer is held back while the
 * case's CaseOpened message to that peer is still in the outbox (read from `outbox_messages`).
 */
@Injectable()
export class MaterialPusher extends LeasedWorker<MaterialTransferEntity> implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly logger = new Logger('MaterialPusher');
  private readonly owner = randomUUID();
  private readonly leaseMs: number;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly peers: PeerClient,
    private readonly store: MaterialStore,
    @Inject(DELIVERY_OPTIONS) private readonly options: DeliveryOptions,
    @Inject(FEDERATION_OPTIONS) federation: FederationOptions,
    @Inject(MATERIALS_OPTIONS) materials: MaterialsOptions,
    @Optional() private readonly metrics?: Metrics,
  ) {
    super();
    // A lease must outlast the longest push (its deadline grows with the file size).
    this.leaseMs = Math.max(options.leaseMs, 2 * (federation.peerDeadlineMs + Math.ceil(materials.maxBytes / 1048576) * 1000));
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  protected limits() {
    return { concurrency: Math.min(this.options.concurrency, MAX_IN_FLIGHT), claimBatch: CLAIM_BATCH, pollIntervalMs: this.options.pollIntervalMs, idlePollMs: this.options.idlePollMs };
  }

  /** Leases up to `limit` due transfers to this pusher (one statement). */
  protected async claim(limit: number): Promise<MaterialTransferEntity[]> {
    const now = this.clock.now().getTime();
    return claimLeases(this.ds, MaterialTransferEntity, materialClaim({ postgres: this.ds.options.type === 'postgres', limit, now, owner: this.owner, leaseMs: this.leaseMs }));
  }

  protected async process(t: MaterialTransferEntity): Promise<void> {
    const repo = this.ds.getRepository(MaterialTransferEntity);
    const key = { materialId: t.materialId, peer: t.peer, leaseOwner: this.owner };
    let m: CaseMaterialEntity | null = null;
    try {
      m = await this.ds.getRepository(CaseMaterialEntity).findOneBy({ storageId: t.materialId });
      const c = m ? await this.ds.getRepository(CaseEntity).findOneBy({ id: m.caseId }) : null;
      if (!m || !c) throw new LocalFault(`material ${t.materialId} or its case is gone`);
      let bytes: Buffer;
      try {
        bytes = await this.store.bytes(m);
      } catch {
        throw new LocalFault(`material ${m.id} fails its local integrity check; not sent`);
      }
      const header = MaterialHeader.encode({
        collaborationId: c.collaborationId,
        materialId: m.id,
        name: `${m.code}/${m.name}`,
        mediaType: m.mediaType,
        size: String(m.size),
        sha256: m.sha256,
      }).finish();
      const { payload, envelope } = await this.peers.pushMaterial(t.peer, header, chunks(bytes), m.size);
      const receipt = MaterialReceiptPayload.decode(payload);
      if (receipt.materialId !== m.id || receipt.sha256 !== m.sha256 || receipt.size !== String(m.size)) {
        throw new Error(`receipt from ${t.peer} does not echo material ${m.id}, its sha256 and size`);
      }
      await repo.update(key, {
        status: 'DELIVERED',
        deliveredAt: this.clock.now(),
        receipt: JSON.stringify({ jws: envelope.jws, payload: Buffer.from(envelope.payload).toString('base64') }),
        lastError: null,
        leaseOwner: null,
        leaseUntil: null,
      });
      if (t.attempts > 0) this.logger.log(`material ${m.id} reached ${t.peer} after ${t.attempts} failed attempts`);
    } catch (e) {
      const attempts = t.attempts + 1;
      const now = this.clock.now();
      // A file that fails its own check will never get better by retrying: park it at once.
      const dead = e instanceof LocalFault || now.getTime() - t.createdAt.getTime() >= this.options.deadLetterAgeMs;
      // Also arms a round for when the retry falls due.
      const delay = this.retryIn(attempts, this.options.backoffBaseMs, this.options.backoffCapMs);
      const reason = e instanceof DomainException ? `${e.code}: ${e.message}` : (e as Error).message;
      await repo.update(key, {
        attempts,
        status: dead ? 'DEAD' : 'PENDING',
        nextAttemptAt: new Date(now.getTime() + delay),
        lastError: toStorableText(reason.slice(0, 300)),
        leaseOwner: null,
        leaseUntil: null,
      });
      if (dead) {
        this.metrics?.deadLetter('material_transfers', e instanceof LocalFault ? 'LOCAL_INTEGRITY' : 'AGE');
        this.logger.error(`material ${t.materialId} to ${t.peer} parked as DEAD after ${attempts} attempts: ${reason}`);
      }
    }
  }
}

/** A failure on our side that retrying cannot fix. */
class LocalFault extends Error {}

/** The file cut into stream chunks of at most 64 KiB. */
function* chunks(bytes: Buffer): Generator<Buffer> {
  for (let at = 0; at < bytes.length; at += STREAM_CHUNK_BYTES) yield bytes.subarray(at, at + STREAM_CHUNK_BYTES);
}
