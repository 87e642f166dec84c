import { Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { CaseFileView, CaseFiles } from '@tongban/cases';
import { DomainException } from '@tongban/common';
import { CaseMaterialEntity } from './case-material.entity';
import { MaterialChunkEntity } from './material-chunk.entity';
import { STORED_CHUNK_BYTES } from './materials.options';

/** Lower-case hex SHA-256. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Keeps material files: metadata in `case_materials`, bytes in 256 KiB base64 chunks. Every read
 * re-checks size and SHA-256, so a damaged row is never served or forwarded as if it were whole.
 */
@Injectable()
export class MaterialStore extends CaseFiles {
  private readonly logger = new Logger('MaterialStore');

  constructor(private readonly ds: DataSource) {
    super();
  }

  /** Writes the file and its chunks (keyed by `storageId`) inside `tx` (the caller's transaction). */
  async insert(tx: EntityManager, row: CaseMaterialEntity, bytes: Buffer): Promise<void> {
    await tx.getRepository(CaseMaterialEntity).insert(row);
    const chunks = tx.getRepository(MaterialChunkEntity);
    for (let idx = 0, at = 0; at < bytes.length; idx++, at += STORED_CHUNK_BYTES) {
      await chunks.insert({ materialId: row.storageId, idx, data: bytes.subarray(at, at + STORED_CHUNK_BYTES).toString('base64') });
    }
  }

  /** The material's bytes, checked against its recorded size and SHA-256; 500 (and a log line) when they differ. */
  async bytes(m: CaseMaterialEntity): Promise<Buffer> {
    const rows = await this.ds.getRepository(MaterialChunkEntity).find({ where: { materialId: m.storageId }, order: { idx: 'ASC' } });
    const bytes = Buffer.concat(rows.map((r) => Buffer.from(r.data, 'base64')));
    const actual = sha256Hex(bytes);
    if (bytes.length !== m.size || actual !== m.sha256) {
      this.logger.error(`material ${m.id} of case ${m.caseId} fails its integrity check: stored ${m.size} bytes sha256 ${m.sha256}, read ${bytes.length} bytes sha256 ${actual}`);
      throw new DomainException('INTERNAL', `material ${m.id} failed its integrity check; the operator has the details`);
    }
    return bytes;
  }

  /** Files of a case, oldest first (the case view's `files`). */
  async list(caseId: string): Promise<CaseFileView[]> {
    const rows = await this.ds.getRepository(CaseMaterialEntity).find({ where: { caseId }, order: { createdAt: 'ASC' } });
    return rows.map((m) => view(m));
  }
}

/** How a material is listed in the local API. */
export function view(m: CaseMaterialEntity): CaseFileView {
  return { id: m.id, code: m.code, name: m.name, mediaType: m.mediaType, size: m.size, sha256: m.sha256, receivedFrom: m.origin, receivedAt: m.createdAt.toISOString() };
}
