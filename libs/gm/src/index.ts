export * from './sm2-error';
export * from './sm2-curve';
export * from './sm2-za';
export * from './sm2-signature';
export * from './sm2-public-key';
export * from './sm2-verify';
export * from './jws-public';
export * from './jws-key-set';
