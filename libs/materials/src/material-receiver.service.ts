import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { CaseEntity, CaseTransactions } from '@tongban/cases';
import { FEDERATION_OPTIONS, FederationInbox, FederationOptions, OpenedEnvelope, RefusalException } from '@tongban/federation';
import { isUniqueViolation } from '@tongban/persistence';
import { Envelope, MaterialReceiptPayload, PushMaterialRequest } from '@tongban/proto';
import { CaseMaterialEntity } from './case-material.entity';
import { CheckedHeader, checkMaterialHeader, HeaderProblem } from './material-header';
import { MaterialStore } from './material-store.service';
import { MATERIALS_OPTIONS, MaterialsOptions, STREAM_CHUNK_BYTES } from './materials.options';

/** A PushMaterial message as the gRPC server hands it over (absent fields may be null). */
type StreamMessage = { envelope?: Envelope | null; chunk?: Uint8Array | null } & Partial<PushMaterialRequest>;

/**
 * Server side of PushMaterial: the first message's envelope goes through FederationInbox (every
 * envelope rule, refusals audited); then the header must name a local case whose accepting gateway
 * is the sender (materials are uploaded there and only there: any other participant is refused
 * NOT_CASE_OWNER before a byte is read), the chunks may not exceed the announced size, and the
 * SHA-256 of what arrived must equal the header's — otherwise MATERIAL_INTEGRITY and nothing is
 * stored. Idempotent by (case, origin, material id): another gateway cannot take an id in advance.
 */
@Injectable()
export class MaterialReceiver {
  private readonly logger = new Logger('MaterialReceiver');

  constructor(
    private readonly ds: DataSource,
    private readonly inbox: FederationInbox,
    private readonly txs: CaseTransactions,
    private readonly store: MaterialStore,
    @Inject(MATERIALS_OPTIONS) private readonly options: MaterialsOptions,
    @Inject(FEDERATION_OPTIONS) private readonly federation: FederationOptions,
  ) {}

  /**
   * Handles one PushMaterial stream and returns the signed response (or throws a refusal);
   * `transportPeer` is the participant of the caller's TLS certificate (see FederationInbox).
   */
  async receive(messages: AsyncIterable<StreamMessage>, transportPeer?: string | null, correlationId?: string): Promise<{ envelope: Envelope }> {
    const it = messages[Symbol.asyncIterator]();
    const first = await it.next();
    const head: StreamMessage | undefined = first.done ? undefined : first.value;
    return this.inbox.handle('PushMaterial', head?.envelope ?? undefined, (req) => this.accept(req, head!, it), transportPeer, correlationId);
  }

  private async accept({ claims, payload }: OpenedEnvelope, head: StreamMessage, rest: AsyncIterator<StreamMessage>): Promise<Uint8Array> {
    const sender = claims.iss;
    const refuse = (code: ConstructorParameters<typeof RefusalException>[0], detail: string) => new RefusalException(code, detail, sender, claims.jti, true);
    let checked: CheckedHeader;
    try {
      checked = checkMaterialHeader(payload, this.options.maxBytes);
    } catch (e) {
      if (e instanceof HeaderProblem) throw refuse(e.code, e.detail);
      throw e;
    }
    const { header: h, code, name, size } = checked;
    if (head.chunk && head.chunk.length > 0) throw refuse('MALFORMED_PAYLOAD', 'the first message carries the envelope only');

    const c = await this.ds.getRepository(CaseEntity).findOneBy({ collaborationId: h.collaborationId });
    // The material may overtake the CaseOpened message on its way: the sender retries later.
    if (!c) throw refuse('OUT_OF_ORDER', `case ${h.collaborationId.slice(0, 64)} is not known here (yet)`);
    if (!Object.values(c.participants).includes(sender)) throw refuse('ITEM_NOT_ALLOWED', `${sender} takes no part in case ${c.collaborationId}`);
    if (c.owner !== sender) throw refuse('NOT_CASE_OWNER', `materials of case ${c.collaborationId} come from its accepting gateway ${c.owner}, not ${sender}`);
    if (!c.item.materials.some((m) => m.code === code)) throw refuse('MALFORMED_PAYLOAD', `${code} is not a material of ${c.itemCode}`);

    const bytes = await this.read(rest, size, refuse);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length !== size) throw refuse('MATERIAL_INTEGRITY', `received ${bytes.length} of ${size} announced bytes`);
    if (actual !== h.sha256) throw refuse('MATERIAL_INTEGRITY', `sha256 of the received bytes is ${actual}, not ${h.sha256}`);

    const row: CaseMaterialEntity = { storageId: randomUUID(), id: h.materialId, caseId: c.id, code, name, mediaType: h.mediaType, size, sha256: actual, createdAt: new Date(), origin: sender };
    try {
      await this.txs.run(async (uow) => {
        const { c: locked } = await this.txs.load(uow, c.collaborationId, 'collaborationId');
        const existing = await uow.tx.getRepository(CaseMaterialEntity).findOneBy({ caseId: row.caseId, origin: row.origin, id: row.id });
        if (existing) return this.same(existing, row, refuse);
        row.createdAt = uow.now;
        await this.store.insert(uow.tx, row, bytes);
        await uow.event(locked, 'MATERIAL_RECEIVED', sender, null, { materialId: row.id, code, name, size, sha256: actual }, sender);
      });
    } catch (e) {
      // A concurrent push of the same material committed first.
      if (!isUniqueViolation(e)) throw e;
      const existing = await this.ds.getRepository(CaseMaterialEntity).findOneBy({ caseId: row.caseId, origin: row.origin, id: row.id });
      if (!existing) throw e;
      this.same(existing, row, refuse);
    }
    return MaterialReceiptPayload.encode({ materialId: row.id, sha256: actual, size: String(size) }).finish();
  }

  /** A material id already stored for this case and origin must name the same file. */
  private same(existing: CaseMaterialEntity, row: CaseMaterialEntity, refuse: (code: 'MALFORMED_PAYLOAD', d: string) => RefusalException): void {
    if (existing.sha256 !== row.sha256 || existing.size !== row.size) {
      throw refuse('MALFORMED_PAYLOAD', `material ${row.id} is already stored here with other content`);
    }
    this.logger.log(`material ${row.id} from ${row.origin} was already stored: receipt repeated`);
  }

  /** Reads the chunks after the header, within a deadline that grows with the announced size. */
  private async read(rest: AsyncIterator<StreamMessage>, size: number, refuse: (code: 'MALFORMED_PAYLOAD' | 'PAYLOAD_TOO_LARGE', d: string) => RefusalException): Promise<Buffer> {
    const parts: Buffer[] = [];
    let total = 0;
    const budgetMs = 2 * (this.federation.peerDeadlineMs + Math.ceil(size / 1048576) * 1000) + 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(refuse('MALFORMED_PAYLOAD', `the stream did not finish within ${Math.round(budgetMs / 1000)} s`)), budgetMs);
    });
    timeout.catch(() => undefined);
    try {
      for (;;) {
        const next = await Promise.race([rest.next(), timeout]);
        if (next.done) break;
        const m = next.value;
        if (m.envelope) throw refuse('MALFORMED_PAYLOAD', 'only the first message carries an envelope');
        const chunk = m.chunk ? Buffer.from(m.chunk) : Buffer.alloc(0);
        if (chunk.length > STREAM_CHUNK_BYTES) throw refuse('MALFORMED_PAYLOAD', `a chunk is ${chunk.length} bytes; at most ${STREAM_CHUNK_BYTES}`);
        total += chunk.length;
        if (total > size) throw refuse('PAYLOAD_TOO_LARGE', `more bytes than the ${size} announced`);
        parts.push(chunk);
      }
    } finally {
      clearTimeout(timer);
    }
    return Buffer.concat(parts, total);
  }
}
