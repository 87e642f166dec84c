export * from './key-admin.service';
