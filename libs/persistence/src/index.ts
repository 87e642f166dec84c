export * from './column-transformers';
export * from './data-source.factory';
export { MIGRATIONS } from './migrations';
export { DataSource } from 'typeorm';
export * from './retention';
