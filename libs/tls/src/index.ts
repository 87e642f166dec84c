export * from './identity';
export * from './pki';
export * from './tls-material';
export * from './transport-security';
export * from './tls-cli';
