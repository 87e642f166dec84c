import { InitialSchema1764100000000 } from './1764100000000-initial-schema';
import { Delivery1764200000000 } from './1764200000000-delivery';
import { Catalogue1764300000000 } from './1764300000000-catalogue';
import { Cases1764400000000 } from './1764400000000-cases';
import { Materials1764500000000 } from './1764500000000-materials';
import { Webhooks1764600000000 } from './1764600000000-webhooks';
import { AuditChain1764700000000 } from './1764700000000-audit-chain';
import { OutboxSignKid1764800000000 } from './1764800000000-outbox-sign-kid';
import { PeerPolicy1764900000000 } from './1764900000000-peer-policy';
import { Directory1765000000000 } from './1765000000000-directory';
import { ApiClients1765100000000 } from './1765100000000-api-clients';
import { WebhookSecretSealed1765200000000 } from './1765200000000-webhook-secret-sealed';
import { OutboxCorrelation1765300000000 } from './1765300000000-outbox-correlation';
import { PeerRoles1765400000000 } from './1765400000000-peer-roles';
import { PeerKeyGrace1765560000000 } from './1765560000000-peer-key-grace';
import { MaterialOwnership1765570000000 } from './1765570000000-material-ownership';
import { StepDueProvisional1765580000000 } from './1765580000000-step-due-provisional';
import { DeadLettersRetention1765600000000 } from './1765600000000-dead-letters-retention';
import { CaseListIndexes1765640000000 } from './1765640000000-case-list-indexes';
import { AuditHashAlg1765700000000 } from './1765700000000-audit-hash-alg';
import { PeerAllowedAlgs1765720000000 } from './1765720000000-peer-allowed-algs';
import { LicenceStatus1765800000000 } from './1765800000000-licence-status';
import { StatusLists1765801000000 } from './1765801000000-status-lists';
import { LicenceNotices1765810000000 } from './1765810000000-licence-notices';
import { LibraryFeedCursor1765820000000 } from './1765820000000-library-feed-cursor';
import { ConsoleSessions1765830000000 } from './1765830000000-console-sessions';
import { SealedKekId1765850000000 } from './1765850000000-sealed-kek-id';
import { LibraryFeedSynced1796200000000 } from './1796200000000-library-feed-synced';
import { ClaimIndexes1796300000000 } from './1796300000000-claim-indexes';
import { AdminChangeNotify1796400000000 } from './1796400000000-admin-change-notify';
import { DeadLetterIndexes1796500000000 } from './1796500000000-dead-letter-indexes';
import { LicenceStatusNotify1796600000000 } from './1796600000000-licence-status-notify';

/** Every migration, in order. One set for SQLite and PostgreSQL. */
export const MIGRATIONS = [
  InitialSchema1764100000000,
  Delivery1764200000000,
  Catalogue1764300000000,
  Cases1764400000000,
  Materials1764500000000,
  Webhooks1764600000000,
  AuditChain1764700000000,
  OutboxSignKid1764800000000,
  PeerPolicy1764900000000,
  Directory1765000000000,
  ApiClients1765100000000,
  WebhookSecretSealed1765200000000,
  OutboxCorrelation1765300000000,
  PeerRoles1765400000000,
  PeerKeyGrace1765560000000,
  MaterialOwnership1765570000000,
  StepDueProvisional1765580000000,
  DeadLettersRetention1765600000000,
  CaseListIndexes1765640000000,
  AuditHashAlg1765700000000,
  PeerAllowedAlgs1765720000000,
  LicenceStatus1765800000000,
  StatusLists1765801000000,
  LicenceNotices1765810000000,
  LibraryFeedCursor1765820000000,
  ConsoleSessions1765830000000,
  SealedKekId1765850000000,
  LibraryFeedSynced1796200000000,
  ClaimIndexes1796300000000,
  AdminChangeNotify1796400000000,
  DeadLetterIndexes1796500000000,
  LicenceStatusNotify1796600000000,
];
