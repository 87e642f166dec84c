export * from './backup-manifest';
export * from './command-result';
export * from './sqlite-backup';
export * from './gateway-running';
export * from './backup-commands';
export * from './restore';
export * from './postgres-restore';
export * from './restore-steps';
