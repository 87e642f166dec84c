export * from './licence.entity';
export * from './licence-record';
export * from './licence-lookup';
export * from './db-licence-lookup';
export * from './licence-importer.service';
export * from './licence-file';
export * from './licence-types';
