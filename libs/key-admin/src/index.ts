export * from './key-admin.service';
export * from './key-admin-cli';
