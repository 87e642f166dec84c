export * from './access-policy';
export * from './api-client.entity';
export * from './client-registry.service';
