export * from './peer.entity';
export * from './peer-key.entity';
export * from './peer.schemas';
export * from './trust-store.service';
