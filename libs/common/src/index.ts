export * from './domain.exception';
export * from './clock';
export * from './masking';
export * from './participants';
export * from './tokens';
export * from './validation';
export * from './find-up';
export * from './leased-worker';
