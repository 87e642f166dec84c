import { Provider } from '@nestjs/common';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock, ParticipantDirectory, SELF_CODE, SystemClock } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { FEDERATION_OPTIONS, FederationOptions, SeenMessageEntity } from '@tongban/federation';
import { KEYS_OPTIONS, KeyEncryption, KeyStore, KeysOptions, SIGNING_KEYS_SEALED, SigningKeyEntity, checkSealedAtStart, resealAtStart } from '@tongban/keys';
import {
  DbLicenceLookup,
  LIBRARY_SOURCE_OPTIONS,
  LibraryFeedCursorEntity,
  LibraryFeedWorker,
  LibrarySource,
  LibrarySourceOptions,
  LicenceEntity,
  LicenceLookup,
  LicenceStatusEntity,
  LicenceTypeCatalogue,
  StatusListEntity,
  StatusListEntryEntity,
} from '@tongban/licences';
import { StatusListCacheEntity } from '@tongban/verification';
import { DataSource, buildDataSource, openDatabase } from '@tongban/persistence';
import { PeerEntity, PeerKeyEntity, TrustStore } from '@tongban/trust';
import { CaseEntity, CaseEventEntity, CaseStepEntity } from '@tongban/cases';
import { KEY_ADMIN_OPTIONS, KeyAdminOptions } from '@tongban/key-admin';
import { ApiClientEntity, ClientRegistry, ConsoleSessionEntity } from '@tongban/access';
import { CATALOGUE_OPTIONS, CalendarVersionEntity, CatalogueOptions, CatalogueStore, CatalogueVersionEntity } from '@tongban/catalogue';
import { DELIVERY_OPTIONS, InboxMessageEntity, OutboxMessageEntity } from '@tongban/delivery';
import { CaseMaterialEntity, MATERIALS_OPTIONS, MaterialChunkEntity, MaterialTransferEntity, MaterialsOptions } from '@tongban/materials';
import { WEBHOOKS_OPTIONS, WEBHOOK_SECRETS_SEALED, WebhookDeliveryEntity, WebhookEntity, WebhooksOptions } from '@tongban/webhooks';
import { DIRECTORY_OPTIONS, DirectoryOptions, DirectoryStateEntity } from '@tongban/directory';
import { LicenceSubscriptionEntity, NOTICES_OPTIONS, NoticeSubscriptionEntity, NoticesOptions, StandingSubscriptionEntity } from '@tongban/notices';

/** Every entity of the gateway's database. */
export const ENTITIES = [
  SigningKeyEntity,
  PeerEntity,
  PeerKeyEntity,
  LicenceEntity,
  LicenceStatusEntity,
  StatusListEntity,
  StatusListEntryEntity,
  StatusListCacheEntity,
  LibraryFeedCursorEntity,
  SeenMessageEntity,
  AuditEventEntity,
  OutboxMessageEntity,
  InboxMessageEntity,
  CatalogueVersionEntity,
  CalendarVersionEntity,
  CaseEntity,
  CaseStepEntity,
  CaseEventEntity,
  CaseMaterialEntity,
  MaterialChunkEntity,
  MaterialTransferEntity,
  WebhookEntity,
  WebhookDeliveryEntity,
  ApiClientEntity,
  DirectoryStateEntity,
  ConsoleSessionEntity,
  LicenceSubscriptionEntity,
  NoticeSubscriptionEntity,
  StandingSubscriptionEntity,
];

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/** Every column of sealed secrets (signing keys, webhook HMAC keys): re-sealed and rotated together. */
const SEALED = [SIGNING_KEYS_SEALED, WEBHOOK_SECRETS_SEALED];

/** Providers that turn the typed config into the ports the libs ask for. */
export function configProviders(config: GatewayConfig): Provider[] {
  return [
    { provide: GATEWAY_CONFIG, useValue: config },
    { provide: SELF_CODE, useValue: config.code },
    { provide: Clock, useClass: SystemClock },
    { provide: ParticipantDirectory, useFactory: () => ParticipantDirectory.fromFile(config.participantsFile, config.extraParticipants) },
    { provide: LicenceTypeCatalogue, useFactory: () => LicenceTypeCatalogue.fromFile(config.licenceTypesFile) },
    {
      provide: KEYS_OPTIONS,
      useValue: {
        keyEncryptionSecret: config.keyEncryptionSecret,
        keyEncryptionSecretPrevious: config.keyEncryptionSecretPrevious ?? undefined,
        signingAlg: config.signingAlg,
        sealAlg: config.sealAlg,
      } satisfies KeysOptions,
    },
    {
      provide: FEDERATION_OPTIONS,
      useValue: {
        allowedAlgorithms: config.allowedAlgorithms,
        messageTtlSeconds: config.messageTtlSeconds,
        envelopeDigest: config.envelopeDigest,
        clockSkewSeconds: config.clockSkewSeconds,
        maxPayloadBytes: config.maxPayloadBytes,
        peerDeadlineMs: config.peerDeadlineMs,
        preconnect: config.peerPreconnect,
        refusals: config.refusals,
      } satisfies FederationOptions,
    },
    {
      provide: DataSource,
      useFactory: () => openDatabase(buildDataSource(config.database, ENTITIES)),
    },
    ...licenceSourceProviders(config),
    { provide: DELIVERY_OPTIONS, useValue: { ...config.delivery, leaseMs: 3 * config.peerDeadlineMs + 1000 } },
    { provide: MATERIALS_OPTIONS, useValue: { maxBytes: config.materialMaxBytes } satisfies MaterialsOptions },
    {
      provide: WEBHOOKS_OPTIONS,
      useValue: {
        ...config.webhooks,
        deadLetterAgeMs: config.delivery.deadLetterAgeMs,
        pollIntervalMs: config.delivery.pollIntervalMs,
        idlePollMs: config.delivery.idlePollMs,
        concurrency: config.delivery.concurrency,
        httpsOnly: config.env === 'production',
      } satisfies WebhooksOptions,
    },
    { provide: NOTICES_OPTIONS, useValue: config.notices satisfies NoticesOptions },
    { provide: KEY_ADMIN_OPTIONS, useValue: { overlapMs: config.keyOverlapMs } satisfies KeyAdminOptions },
    { provide: CATALOGUE_OPTIONS, useValue: { catalogueFile: config.catalogueFile, calendarFile: config.calendarFile } satisfies CatalogueOptions },
    { provide: DIRECTORY_OPTIONS, useValue: (config.directory ? { enabled: true, ...config.directory, clockSkewSeconds: config.clockSkewSeconds } : { enabled: false }) satisfies DirectoryOptions },
  ];
}

/** KeyStore, TrustStore, CatalogueStore and ClientRegistry are loaded before anything may use them. */
export const initialisedStores: Provider[] = [
  {
    provide: ClientRegistry,
    inject: [DataSource, Clock, AuditLog, GATEWAY_CONFIG],
    useFactory: async (ds: DataSource, clock: Clock, audit: AuditLog, config: GatewayConfig) => {
      const registry = new ClientRegistry(ds, clock, audit, { systems: config.apiClients, adminToken: config.adminToken });
      await registry.refresh();
      return registry;
    },
  },
  {
    provide: CatalogueStore,
    inject: [DataSource, Clock, CATALOGUE_OPTIONS],
    useFactory: async (ds: DataSource, clock: Clock, options: CatalogueOptions) => {
      const store = new CatalogueStore(ds, clock, options);
      await store.init();
      return store;
    },
  },
  {
    provide: KeyStore,
    inject: [DataSource, Clock, KEYS_OPTIONS, GATEWAY_CONFIG],
    useFactory: async (ds: DataSource, clock: Clock, options: KeysOptions, config: GatewayConfig) => {
      // Every sealed value must be under a key-encryption secret this gateway has (refused by kek id otherwise).
      await checkSealedAtStart(ds, new KeyEncryption(options.keyEncryptionSecret, options.sealAlg, options.keyEncryptionSecretPrevious), SEALED, config.env === 'production');
      // A changed TONGBAN_SEAL_ALG re-seals every secret at rest in one transaction before any is used.
      await resealAtStart(ds, options, SEALED);
      const store = new KeyStore(ds, clock, options);
      await store.init();
      return store;
    },
  },
  {
    provide: TrustStore,
    inject: [DataSource, Clock, ParticipantDirectory, SELF_CODE, AuditLog],
    useFactory: async (ds: DataSource, clock: Clock, participants: ParticipantDirectory, self: string, audit: AuditLog) => {
      const store = new TrustStore(ds, clock, participants, self, audit);
      await store.refresh();
      return store;
    },
  },
];

/** The issuer side's licence source: the imported registry (default) or the province's library (docs/licence-library.md). */
function licenceSourceProviders(config: GatewayConfig): Provider[] {
  const source = config.licenceSource;
  if (source.kind === 'registry') return [{ provide: LicenceLookup, useClass: DbLicenceLookup }];
  const { kind: _kind, ...options } = source;
  return [
    { provide: LIBRARY_SOURCE_OPTIONS, useValue: options satisfies LibrarySourceOptions },
    LibrarySource,
    LibraryFeedWorker,
    { provide: LicenceLookup, inject: [LibrarySource], useFactory: (s: LibrarySource) => s.lookup },
  ];
}
