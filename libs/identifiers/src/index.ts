export * from './identifier-check';
export * from './province';
export * from './citizen-id';
export * from './credit-code';
export * from './licence-id';
