import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * One licence as the STAND-IN library keeps it: its own element names, in the style of the
 * GB/T 36903 metadata (pinyin initials), its own values (Chinese labels, compact dates, 长期 for
 * "no expiry"). Deliberately not Tongban's names, so that the gateway's mapping file does real work.
 */
export interface ZzRecord {
  ZZBS: string; // 证照标识
  ZZLXDM: string; // 证照类型代码
  ZZMC: string; // 证照名称
  ZZBH: string; // 证照编号
  ZZBFJG: string; // 证照颁发机构
  ZZBFJGDM: string; // 证照颁发机构代码
  CZZT: string; // 持证主体
  CZZTDM: string; // 持证主体代码
  CZZTDMLX: string; // 持证主体代码类型: 身份证 | 统一社会信用代码
  ZZBFRQ: string; // 证照颁发日期 YYYYMMDD
  YXQQSRQ: string; // 有效期起始日期 YYYYMMDD
  YXQJZRQ: string; // 有效期截止日期 YYYYMMDD or 长期
  ZZZT: string; // 证照状态: 有效 | 中止 | 吊销
  XZQHDM: string; // 行政区划代码
}

/** One entry of the change feed; XH (序号) orders the feed. */
export interface ZzChange {
  XH: number;
  ZZBS: string;
  ZZLXDM: string;
  ZZZT: string;
  BGSJ: string; // 变更时间, ISO 8601
  BGYY: string; // 变更原因
}

export const STATUSES = ['有效', '中止', '吊销'] as const;
const FROM_TONGBAN: Record<string, string> = { VALID: '有效', SUSPENDED: '中止', REVOKED: '吊销' };
const HOLDER_TYPE: Record<string, string> = { '111': '身份证', '001': '统一社会信用代码' };

/** Thrown for a request the store refuses; `status` is the HTTP status to answer with. */
export class StandInError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The stand-in's licences and change log, in memory, saved to `stateFile` after every change. */
export class StandInStore {
  private readonly byId = new Map<string, ZzRecord>();
  private changes: ZzChange[] = [];

  constructor(
    seedFile: string,
    private readonly stateFile: string | null,
  ) {
    const seed = JSON.parse(readFileSync(seedFile, 'utf8')) as Record<string, string | null>[];
    for (const l of seed) this.byId.set(String(l.licenceId), fromTongban(l));
    if (stateFile && existsSync(stateFile)) {
      const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { changes: ZzChange[] };
      this.changes = state.changes;
      for (const c of this.changes) {
        const r = this.byId.get(c.ZZBS);
        if (r) r.ZZZT = c.ZZZT;
      }
    }
  }

  get(zzbs: string): ZzRecord | undefined {
    return this.byId.get(zzbs);
  }

  findByNumber(zzlxdm: string, zzbh: string): ZzRecord | undefined {
    for (const r of this.byId.values()) if (r.ZZLXDM === zzlxdm && r.ZZBH === zzbh) return r;
    return undefined;
  }

  /** Changes after `cursor` (the XH of the last change the caller applied; '' from the start), at most `limit`. */
  changesAfter(cursor: string, limit: number): { changes: ZzChange[]; nextCursor: string } {
    if (cursor !== '' && !/^\d{1,15}$/.test(cursor)) throw new StandInError(400, 'cursor must be empty or a cursor this library returned');
    const after = cursor === '' ? 0 : Number(cursor);
    if (after > this.changes.length) throw new StandInError(400, 'cursor is ahead of this library');
    const page = this.changes.slice(after, after + limit);
    return { changes: page, nextCursor: String(after + page.length) };
  }

  /**
   * One page of the full listing, in a stable order: the records after position `cursor` ('' from
   * the start), at most `limit`; `nextCursor` is '' after the last page. `feedCursor` is the feed's
   * position now: the listing reflects every change up to it.
   */
  list(cursor: string, limit: number): { records: ZzRecord[]; nextCursor: string; feedCursor: string } {
    if (cursor !== '' && !/^\d{1,15}$/.test(cursor)) throw new StandInError(400, 'cursor must be empty or a cursor this library returned');
    const after = cursor === '' ? 0 : Number(cursor);
    const all = [...this.byId.values()];
    const records = all.slice(after, after + limit);
    return { records, nextCursor: after + records.length < all.length ? String(after + records.length) : '', feedCursor: String(this.changes.length) };
  }

  /** Sets a licence's status (an administrator of the library); a change enters the feed. */
  setStatus(zzbs: string, zzzt: string, bgyy: string): ZzChange | null {
    const r = this.byId.get(zzbs);
    if (!r) throw new StandInError(404, 'no licence with this ZZBS');
    if (!(STATUSES as readonly string[]).includes(zzzt)) throw new StandInError(400, `ZZZT must be one of ${STATUSES.join(', ')}`);
    if (!bgyy || bgyy.length > 200) throw new StandInError(400, 'BGYY (reason) must be 1-200 characters');
    if (r.ZZZT === zzzt) return null;
    if (r.ZZZT === '吊销') throw new StandInError(409, 'a revoked licence stays revoked');
    r.ZZZT = zzzt;
    const change: ZzChange = { XH: this.changes.length + 1, ZZBS: zzbs, ZZLXDM: r.ZZLXDM, ZZZT: zzzt, BGSJ: new Date().toISOString(), BGYY: bgyy };
    this.changes.push(change);
    this.save();
    return change;
  }

  private save(): void {
    if (!this.stateFile) return;
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify({ changes: this.changes }));
    renameSync(tmp, this.stateFile);
  }
}

const compact = (d: string | null) => (d ? d.replace(/-/g, '') : '长期');

/** A record of Tongban's import format (deploy/demo) as the stand-in keeps it. */
function fromTongban(l: Record<string, string | null>): ZzRecord {
  const s = (k: string) => String(l[k] ?? '');
  return {
    ZZBS: s('licenceId'),
    ZZLXDM: s('typeCode'),
    ZZMC: s('name'),
    ZZBH: s('number'),
    ZZBFJG: s('issuerOrganName'),
    ZZBFJGDM: s('issuerOrganCode'),
    CZZT: s('holderName'),
    CZZTDM: s('holderCode'),
    CZZTDMLX: HOLDER_TYPE[s('holderCodeType')] ?? s('holderCodeType'),
    ZZBFRQ: compact(s('issueDate')),
    YXQQSRQ: compact(s('validFrom')),
    YXQJZRQ: compact(l.validUntil ?? null),
    ZZZT: FROM_TONGBAN[s('status')] ?? s('status'),
    XZQHDM: s('jurisdictionCode'),
  };
}
