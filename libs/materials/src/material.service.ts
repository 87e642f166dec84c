import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { CaseEntity, CaseFileView, CaseTransactions, caseNamedBy } from '@tongban/cases';
import { DomainException, ValidationException } from '@tongban/common';
import { CaseMaterialEntity } from './case-material.entity';
import { MaterialPusher } from './material-pusher.service';
import { MaterialStore, sha256Hex, view } from './material-store.service';
import { MaterialTransferEntity } from './material-transfer.entity';
import { MATERIAL_ID, MATERIAL_MEDIA_TYPES, MATERIALS_OPTIONS, MaterialsOptions } from './materials.options';

/** What an upload returns. */
export interface UploadResult {
  materialId: string;
  code: string;
  sha256: string;
  size: number;
}

const EXTENSION: Record<string, string> = { 'application/pdf': '.pdf', 'image/jpeg': '.jpg', 'image/png': '.png', 'application/octet-stream': '.bin' };

/**
 * The local API of case materials: the accepting gateway stores an uploaded file and, in the same
 * transaction, queues it for every other participant whose step needs materials; any participant
 * lists and downloads the files it holds.
 */
@Injectable()
export class MaterialService {
  constructor(
    private readonly ds: DataSource,
    private readonly txs: CaseTransactions,
    private readonly store: MaterialStore,
    private readonly pusher: MaterialPusher,
    private readonly audit: AuditLog,
    @Inject(MATERIALS_OPTIONS) private readonly options: MaterialsOptions,
  ) {}

  /** Stores `body` as material `code` of case `ref` (accepting gateway only); 400/403/404/409/413. */
  async upload(ref: string, code: string, body: unknown, meta: { contentType?: string; fileName?: string }, actor: string): Promise<UploadResult> {
    const mediaType = (meta.contentType ?? '').split(';')[0].trim().toLowerCase();
    if (!Buffer.isBuffer(body) || !(MATERIAL_MEDIA_TYPES as readonly string[]).includes(mediaType)) {
      throw new ValidationException('content-type', 'ONE_OF', `content-type must be one of ${MATERIAL_MEDIA_TYPES.join(', ')}, with the file as the body`);
    }
    if (body.length === 0) throw new ValidationException('(body)', 'REQUIRED', 'the file is empty');
    if (body.length > this.options.maxBytes) throw new DomainException('PAYLOAD_TOO_LARGE', `the file is ${body.length} bytes; the limit is ${this.options.maxBytes}`);
    const sha256 = sha256Hex(body);
    const result = await this.txs.run(async (uow) => {
      const { c } = await this.txs.load(uow, ref, 'reference');
      if (!c.item.materials.some((m) => m.code === code)) {
        throw new ValidationException('code', 'UNKNOWN_MATERIAL', `code: ${code.slice(0, 60)} is not a material of ${c.itemCode} (${c.item.materials.map((m) => m.code).join(', ')})`);
      }
      if (c.owner !== uow.self) throw new DomainException('FORBIDDEN', `materials of ${c.collaborationId} are uploaded at its accepting gateway ${c.owner}`);
      if (c.state !== 'OPEN') throw new DomainException('CONFLICT', `case ${c.collaborationId} is ${c.state}`);
      const id = randomUUID();
      const row: CaseMaterialEntity = {
        storageId: id,
        id,
        caseId: c.id,
        code,
        name: cleanFileName(meta.fileName) ?? `${code}${EXTENSION[mediaType]}`,
        mediaType,
        size: body.length,
        sha256,
        createdAt: uow.now,
        origin: uow.self,
      };
      await this.store.insert(uow.tx, row, body);
      await uow.event(c, 'MATERIAL_ADDED', actor, null, { materialId: row.id, code, name: row.name, size: row.size, sha256 });
      const peers = recipients(c, uow.self);
      for (const peer of peers) {
        await uow.tx.getRepository(MaterialTransferEntity).insert({
          materialId: row.storageId,
          peer,
          status: 'PENDING',
          attempts: 0,
          nextAttemptAt: uow.now,
          createdAt: uow.now,
          deliveredAt: null,
          lastError: null,
          receipt: null,
          leaseOwner: null,
          leaseUntil: null,
        });
      }
      return { materialId: row.id, code, sha256, size: row.size, queued: peers.length };
    });
    if (result.queued > 0) this.pusher.nudge();
    return { materialId: result.materialId, code: result.code, sha256: result.sha256, size: result.size };
  }

  /** The files of case `ref` held here. */
  async list(ref: string): Promise<{ materials: CaseFileView[] }> {
    const c = await this.caseOf(ref);
    return { materials: await this.store.list(c.id) };
  }

  /** One file's bytes (integrity re-checked); every download is audited. */
  async download(ref: string, materialId: string, actor: string): Promise<{ name: string; mediaType: string; bytes: Buffer; sha256: string }> {
    const c = await this.caseOf(ref);
    const m = MATERIAL_ID.test(materialId) ? await this.ds.getRepository(CaseMaterialEntity).findOneBy({ id: materialId, caseId: c.id }) : null;
    if (!m) throw new DomainException('NOT_FOUND', `no material ${materialId.slice(0, 64)} in case ${c.collaborationId}`);
    const bytes = await this.store.bytes(m);
    this.audit.record({ event: 'case.material.downloaded', actor, subject: m.id, outcome: 'OK', details: { caseId: c.collaborationId, code: m.code } });
    return { name: view(m).name, mediaType: m.mediaType, bytes, sha256: m.sha256 };
  }

  private async caseOf(ref: string): Promise<CaseEntity> {
    const c = await this.ds.getRepository(CaseEntity).createQueryBuilder('c').where(caseNamedBy('c'), { ref }).getOne();
    if (!c) throw new DomainException('NOT_FOUND', `no case ${ref.slice(0, 80)}`);
    return c;
  }
}

/** Other participants that perform a step needing the materials. */
export function recipients(c: CaseEntity, self: string): string[] {
  const peers = new Set<string>();
  for (const s of c.item.steps) {
    const p = c.participants[s.role];
    if (s.needsMaterials && p && p !== self) peers.add(p);
  }
  return [...peers];
}

/**
 * A safe display name from `x-file-name` (percent-encoded UTF-8 accepted): no path, no control
 * characters, at most 150 characters; undefined when nothing usable is left.
 */
export function cleanFileName(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    // Not percent-encoded: use it as it is.
  }
  name = name
    .split(/[\\/]/)
    .pop()!
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    .replace(/[\u0000-\u001f\u007f"]/g, '')
    .trim()
    .slice(0, 150);
  return name && name !== '.' && name !== '..' ? name : undefined;
}
