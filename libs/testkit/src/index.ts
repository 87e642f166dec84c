export * from './databases';
export * from './federation';
export * from './demo-licences';
export * from './fake-peer';
export * from './fake-peer-stream';
export * from './test-pki';
export * from './sm2-fixed-nonce';
export * from './licence-library';
