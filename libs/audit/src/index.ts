export * from './audit-event.entity';
export * from './audit-checkpoint.entity';
export * from './audit-events';
export * from './audit-chain';
export { verifyStoredAuditChain } from './audit-chain.store';
export * from './audit-log.service';
