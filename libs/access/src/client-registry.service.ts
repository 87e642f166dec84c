import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { DataSource, Repository } from 'typeorm';
import { z } from 'zod';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, RetriedReload, parseOrThrow } from '@tongban/common';
import { isUniqueViolation } from '@tongban/persistence';
import { Principal, ROLES, SCOPES, Scope } from './access-policy';
import { ApiClientEntity } from './api-client.entity';

const createSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('SYSTEM'), name: z.string().regex(/^[a-z0-9_-]{1,64}$/i, 'letters, digits, _ or -'), scopes: z.array(z.enum(SCOPES)).min(1) }).strict(),
  z.object({ kind: z.literal('ADMIN'), name: z.string().regex(/^[a-z0-9_-]{1,64}$/i, 'letters, digits, _ or -'), role: z.enum(ROLES) }).strict(),
]);

/** Bootstrap credentials from configuration (they hold every scope / the admin role). */
export interface BootstrapClients {
  systems: { name: string; token: string }[];
  adminToken: string;
}

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Who may call the local and admin APIs: clients stored with a SHA-256 of their token (shown once),
 * plus the bootstrap tokens from configuration. Lookups are served from memory.
 */
@Injectable()
export class ClientRegistry implements OnModuleDestroy {
  private readonly reloads = new RetriedReload('API client registry', () => this.load(), new Logger('ClientRegistry'));
  private byHash = new Map<string, Principal>();
  private byId = new Map<string, Principal>();
  private readonly repo: Repository<ApiClientEntity>;
  private readonly bootstrap = new Map<string, Principal>();

  constructor(
    ds: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    boot: BootstrapClients,
  ) {
    this.repo = ds.getRepository(ApiClientEntity);
    // A bootstrap id names the token's generation (8 hex of its hash): a new TONGBAN_ADMIN_TOKEN ends the old one's console sessions.
    const bootId = (name: string, token: string) => `bootstrap:${name}:${hash(token).slice(0, 8)}`;
    for (const s of boot.systems) this.bootstrap.set(hash(s.token), { id: bootId(s.name, s.token), name: s.name, kind: 'SYSTEM', scopes: [...SCOPES], role: null });
    this.bootstrap.set(hash(boot.adminToken), { id: bootId('admin', boot.adminToken), name: 'admin', kind: 'ADMIN', scopes: [], role: 'admin' });
  }

  /**
   * Reloads stored clients (at boot, after a change, periodically for replicas). A failed reload is
   * tried again by itself until one succeeds (RetriedReload): a disabled client must not stay
   * accepted here because one read failed.
   */
  async refresh(): Promise<void> {
    return this.reloads.run();
  }

  /** Stops a pending retry (shutdown). */
  onModuleDestroy(): void {
    this.reloads.stop();
  }

  private async load(): Promise<void> {
    const rows = await this.repo.find();
    const enabled = rows.filter((r) => !r.disabledAt).map((r) => [r.tokenHash, { id: r.id, name: r.name, kind: r.kind, scopes: r.scopes as Scope[], role: r.role }] as const);
    this.byHash = new Map(enabled);
    this.byId = new Map(enabled.map(([, p]) => [p.id, p]));
  }

  /**
   * The enabled principal with this id (what a console session resolves to on each request, so a
   * disabled client's sessions stop at once); undefined when unknown or disabled.
   */
  byClientId(id: string): Principal | undefined {
    for (const p of this.bootstrap.values()) if (p.id === id) return p;
    return this.byId.get(id);
  }

  /** The principal holding `token`, if any. */
  authenticate(token: string): Principal | undefined {
    const h = hash(token);
    return this.bootstrap.get(h) ?? this.byHash.get(h);
  }

  /** Registers a client and returns its token once. */
  async create(body: unknown, actor: string): Promise<{ id: string; name: string; kind: string; scopes: string[]; role: string | null; token: string }> {
    const input = parseOrThrow(createSchema, body);
    const token = `tb_${randomBytes(32).toString('base64url')}`;
    const row: ApiClientEntity = {
      id: randomUUID(),
      name: input.name,
      tokenHash: hash(token),
      kind: input.kind,
      scopes: input.kind === 'SYSTEM' ? input.scopes : [],
      role: input.kind === 'ADMIN' ? input.role : null,
      createdAt: this.clock.now(),
      disabledAt: null,
    };
    await this.repo.insert(row as never).catch((e) => {
      throw isUniqueViolation(e) ? new DomainException('CONFLICT', `a client named ${input.name} exists`) : e;
    });
    await this.audit.recordNow({ event: 'admin.client.created', actor, subject: input.name, outcome: 'OK', details: { kind: row.kind, scopes: row.scopes.join(','), role: row.role ?? '' } });
    await this.refresh();
    return { id: row.id, name: row.name, kind: row.kind, scopes: row.scopes, role: row.role, token };
  }

  /** Every stored client (never tokens or hashes). */
  async list() {
    const rows = await this.repo.find({ order: { createdAt: 'ASC' } });
    return rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind, scopes: r.scopes, role: r.role, createdAt: r.createdAt.toISOString(), disabledAt: r.disabledAt?.toISOString() ?? null }));
  }

  /** Disables a client at once. */
  async disable(id: string, actor: string): Promise<void> {
    const row = await this.repo.findOneBy({ id });
    if (!row) throw new DomainException('NOT_FOUND', `no client ${id.slice(0, 64)}`);
    await this.repo.update({ id }, { disabledAt: this.clock.now() });
    await this.audit.recordNow({ event: 'admin.client.disabled', actor, subject: row.name, outcome: 'OK' });
    await this.refresh();
  }
}
