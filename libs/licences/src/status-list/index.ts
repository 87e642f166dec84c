export * from './bitstring';
export * from './status-list-claims';
export * from './status-list-reader';
export * from './status-list.entity';
export * from './status-list-entry.entity';
export * from './status-list-index';
export * from './status-list-publisher';
