export * from './generated/tongban/federation/v1/envelope';
export * from './generated/tongban/federation/v1/federation';
export * from './generated/tongban/federation/v1/payloads';
export * from './generated/tongban/federation/v1/delivery';
export * from './generated/tongban/cases/v1/cases';
export { Timestamp } from './generated/google/protobuf/timestamp';
export { protoRoot, FEDERATION_PROTO_FILES, FEDERATION_PACKAGE } from './proto-files';
export * from './generated/tongban/federation/v1/keys';
export * from './generated/tongban/federation/v1/notices';
