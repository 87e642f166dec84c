export * from './access-policy';
export * from './access.decorator';
export * from './access.guard';
export * from './api-client.entity';
export * from './client-registry.service';
export * from './route-declarations';
