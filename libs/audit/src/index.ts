export * from './audit-event.entity';
export * from './audit-events';
export * from './audit-log.service';
