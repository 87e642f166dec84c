/** Fully qualified payload type names, as carried in the `mty` claim. */
export const MessageType = {
  VerifyLicences: 'tongban.federation.v1.VerifyLicencesPayload',
  VerifyLicencesResult: 'tongban.federation.v1.VerifyLicencesResultPayload',
  GetJwks: 'tongban.federation.v1.GetJwksPayload',
  Jwks: 'tongban.federation.v1.JwksPayload',
} as const;

/** For each RPC, the payload type its request and its response must carry. */
export const RPC_TYPES: Record<string, { request: string; response: string }> = {
  VerifyLicences: { request: MessageType.VerifyLicences, response: MessageType.VerifyLicencesResult },
  GetJwks: { request: MessageType.GetJwks, response: MessageType.Jwks },
};
