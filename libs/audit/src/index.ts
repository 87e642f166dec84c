export * from './audit-event.entity';
export * from './audit-checkpoint.entity';
export * from './audit-events';
export * from './audit-chain';
export * from './audit-chain.verifier';
export * from './audit-checkpoint-export';
export { verifyStoredAuditChain } from './audit-chain.store';
export * from './audit-log.service';
export * from './audit-verify-cli';
