import { DynamicModule, Injectable, Logger, Module, OnApplicationShutdown, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { DataSource, RetentionWorker } from '@tongban/persistence';
import { AUDIT_LOG_OPTIONS, AuditLog, AuditLogOptions } from '@tongban/audit';
import { GatewayConfig } from '@tongban/config';
import { EnvelopeService, FederationInbox, PeerClient, ReplayStore, SignedTokenVerifier } from '@tongban/federation';
import { LicenceImporter, LicenceStatusAdmin, LicenceStatusService, STATUS_LIST_OPTIONS, StatusListIndex, StatusListOptions, StatusListPublisher } from '@tongban/licences';
import { CaseFiles, CaseInboxHandlers, CaseNotes, CaseOwner, CaseQuery, CaseTransactions, TaskService } from '@tongban/cases';
import { CatalogueStore } from '@tongban/catalogue';
import { DeliveryHolds, Dispatcher, Inbox, Outbox, OutboxAdmin, RestoreResync, ResyncResponder, inboxRetention, outboxRetention } from '@tongban/delivery';
import { MaterialPusher, MaterialReceiver, MaterialService, MaterialStore, MaterialTransferAdmin, materialRetention } from '@tongban/materials';
import { WebhookDispatcher, WebhookList, WebhookRecorder, WebhookService, webhookDeliveriesRetention } from '@tongban/webhooks';
import { DIRECTORY_PROVIDERS } from '@tongban/directory';
import { CasesController } from './http/cases.controller';
import { KeyAdmin } from '@tongban/key-admin';
import { KeyStore, SecretSealer } from '@tongban/keys';
import { TransportSecurity } from '@tongban/tls';
import { AccessGuard, RouteDeclarations } from '@tongban/access';
import { MaterialsController } from './http/materials.controller';
import { WebhooksController } from './http/webhooks.controller';
import { AttestationService, AttestationStatusCheck, IssuerService, StatusListServer, VERIFICATION_OPTIONS, VerificationOptions, VerificationService } from '@tongban/verification';
import { FederationGrpcController } from './grpc/federation.grpc-controller';
import { RpcErrorFilter } from './grpc/rpc-error.filter';
import { configProviders, initialisedStores } from './gateway.providers';
import { AdminController } from './http/admin.controller';
import { LicenceStatusController } from './http/licence-status.controller';
import { ConsoleReadsController } from './http/console-reads.controller';
import { HttpErrorFilter } from './http/http-error.filter';
import { InputGuard } from './http/input.guard';
import { PublicController } from './http/public.controller';
import { Clock, errorMessage } from '@tongban/common';
import { HealthController } from './http/health.controller';
import { Metrics, OPERATIONAL_GAUGES, Readiness, ShutdownState } from '@tongban/observability';
import { VerificationController } from './http/verification.controller';
import { ReplicaWakeUps } from './replica-wake-ups';
import { AdminStateReload } from './admin-state-reload';
import { registerGatewayGauges } from './gateway-gauges';
import { consoleParts } from './http/console/console.parts';
import { LicenceSubscriptions, NoticeReceiver, NoticeSender, NoticeSubscriptions, noticeSubscriptionsRetention } from '@tongban/notices';
import { NoticesController } from './http/notices.controller';
import { NoticesAdminController } from './http/notices-admin.controller';

/** Watches the TLS files (audited) and closes the database last. */
@Injectable()
class Lifecycle implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  constructor(
    private readonly ds: DataSource,
    private readonly transport: TransportSecurity,
    private readonly audit: AuditLog,
  ) {}

  onModuleInit(): void {
    // A new certificate or CA bundle is a security-relevant change made through files: audited.
    this.transport.onChange((e) =>
      this.audit.record(
        e.kind === 'reloaded'
          ? {
              event: 'transport.tls.reloaded',
              actor: 'system',
              subject: e.fingerprint.slice(0, 64),
              outcome: 'OK',
              details: { previous: e.previousFingerprint ?? '', notAfter: e.notAfter, trustedCas: e.trustedCas },
            }
          : { event: 'transport.tls.reload_failed', actor: 'system', subject: e.keptFingerprint ?? 'none', outcome: 'FAILED', reason: e.problem.slice(0, 200) },
      ),
    );
    this.transport.watch();
  }

  onModuleDestroy(): void {
    this.transport.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/** The province gateway: wiring only; capabilities live in libs/. */
@Module({})
export class GatewayModule {
  static forConfig(config: GatewayConfig, transport: TransportSecurity): DynamicModule {
    const adminConsole = consoleParts(config);
    return {
      module: GatewayModule,
      imports: [DiscoveryModule],
      controllers: [
        VerificationController,
        CasesController,
        MaterialsController,
        WebhooksController,
        NoticesController,
        NoticesAdminController,
        AdminController,
        LicenceStatusController,
        ConsoleReadsController,
        PublicController,
        HealthController,
        FederationGrpcController,
        ...adminConsole.controllers,
      ],
      providers: [
        ...adminConsole.providers,
        ...configProviders(config),
        { provide: TransportSecurity, useValue: transport },
        ...initialisedStores,
        ReplayStore,
        SecretSealer,
        AuditLog,
        {
          provide: AUDIT_LOG_OPTIONS,
          inject: [Metrics],
          useFactory: (metrics: Metrics): AuditLogOptions => ({
            checkpointEverySeconds: config.audit.checkpointSeconds,
            checkpointEveryEntries: config.audit.checkpointEntries,
            checkpointFile: config.audit.checkpointFile,
            hashAlg: config.audit.hash,
            onCheckpointFailure: (stage) => metrics.auditCheckpointFailure(stage),
          }),
        },
        EnvelopeService,
        SignedTokenVerifier,
        FederationInbox,
        PeerClient,
        LicenceImporter,
        LicenceStatusService,
        LicenceStatusAdmin,
        StatusListIndex,
        StatusListPublisher,
        { provide: STATUS_LIST_OPTIONS, useValue: { ttlSeconds: config.statusListTtlSeconds } satisfies StatusListOptions },
        StatusListServer,
        AttestationStatusCheck,
        AttestationService,
        IssuerService,
        VerificationService,
        { provide: VERIFICATION_OPTIONS, useValue: { coalesce: config.verifyCoalesce } satisfies VerificationOptions },
        Outbox,
        Dispatcher,
        Inbox,
        OutboxAdmin,
        DeliveryHolds,
        ResyncResponder,
        RestoreResync,
        KeyAdmin,
        CaseTransactions,
        CaseOwner,
        CaseInboxHandlers,
        TaskService,
        CaseQuery,
        CaseNotes,
        MaterialStore,
        { provide: CaseFiles, useExisting: MaterialStore },
        MaterialService,
        MaterialReceiver,
        MaterialPusher,
        MaterialTransferAdmin,
        WebhookService,
        WebhookDispatcher,
        WebhookRecorder,
        WebhookList,
        LicenceSubscriptions,
        NoticeReceiver,
        NoticeSender,
        NoticeSubscriptions,
        ...DIRECTORY_PROVIDERS,
        RouteDeclarations,
        Lifecycle,
        AdminStateReload,
        ReplicaWakeUps,
        Metrics,
        ShutdownState,
        {
          // Finished rows go after their retention days, in batches (docs/operations.md §10.8).
          provide: RetentionWorker,
          inject: [DataSource, Clock, Metrics],
          useFactory: (ds: DataSource, clock: Clock, metrics: Metrics) => {
            const logger = new Logger('Retention');
            const r = config.retention;
            return new RetentionWorker(
              ds,
              () => clock.now().getTime(),
              [
                outboxRetention(r.outboxDays),
                inboxRetention(r.inboxDays),
                webhookDeliveriesRetention(r.webhookDeliveriesDays),
                materialRetention(r.materialDays),
                noticeSubscriptionsRetention('licence_subscriptions'),
                noticeSubscriptionsRetention('notice_subscriptions'),
              ],
              { intervalMs: r.intervalMs, batchSize: r.batchSize },
              {
                deleted: (table, rows, days) => {
                  metrics.retentionDeleted(table, rows);
                  logger.log(`deleted ${rows} rows of ${table} finished more than ${days} days ago`);
                },
                failed: (table, e) => logger.warn(`${table}: retention batch failed (retried next run): ${errorMessage(e)}`),
              },
            );
          },
        },
        {
          provide: Readiness,
          inject: [DataSource, KeyStore, ShutdownState],
          useFactory: (ds: DataSource, keys: KeyStore, shutdown: ShutdownState) => new Readiness(ds, () => keys.list().some((k) => k.status === 'ACTIVE'), shutdown),
        },
        {
          provide: OPERATIONAL_GAUGES,
          inject: [Metrics, OutboxAdmin, KeyStore, DataSource, CatalogueStore, AuditLog, CaseTransactions],
          useFactory: (metrics: Metrics, outbox: OutboxAdmin, keys: KeyStore, ds: DataSource, catalogue: CatalogueStore, audit: AuditLog, cases: CaseTransactions) =>
            registerGatewayGauges(metrics, { outbox, keys, ds, catalogue, audit, cases, transport }),
        },
        // Every HTTP route is gated by its own access declaration (libs/access); see RouteDeclarations.
        { provide: APP_GUARD, useClass: AccessGuard },
        // Then path parameters and the query string (@ValidQuery), once the caller is known to be allowed.
        { provide: APP_GUARD, useClass: InputGuard },
        { provide: APP_FILTER, useClass: HttpErrorFilter },
        RpcErrorFilter,
      ],
    };
  }
}
