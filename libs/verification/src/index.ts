export * from './attestation-claims';
export * from './attestation.service';
export * from './issuer.service';
export * from './verification.service';
export * from './verification-result';
export * from './verification-request.schema';
