export * from './keys.options';
export * from './signing-key.entity';
export * from './key-store.service';
export * from './key-promotion';
export * from './key-encryption';
export * from './secret-sealer';
export * from './sm2-signing-key';
