/** Fully qualified payload type names, as carried in the `mty` claim. */
export const MessageType = {
  VerifyLicences: 'tongban.federation.v1.VerifyLicencesPayload',
  VerifyLicencesResult: 'tongban.federation.v1.VerifyLicencesResultPayload',
  GetJwks: 'tongban.federation.v1.GetJwksPayload',
  Jwks: 'tongban.federation.v1.JwksPayload',
  Delivery: 'tongban.federation.v1.DeliveryPayload',
  DeliveryReceipt: 'tongban.federation.v1.DeliveryReceiptPayload',
  MaterialHeader: 'tongban.federation.v1.MaterialHeader',
  MaterialReceipt: 'tongban.federation.v1.MaterialReceiptPayload',
  Resync: 'tongban.federation.v1.ResyncPayload',
  ResyncState: 'tongban.federation.v1.ResyncStatePayload',
  GetStatusList: 'tongban.federation.v1.GetStatusListPayload',
  StatusList: 'tongban.federation.v1.StatusListPayload',
} as const;

/** For each RPC, the payload type its request and its response must carry. */
export const RPC_TYPES: Record<string, { request: string; response: string }> = {
  VerifyLicences: { request: MessageType.VerifyLicences, response: MessageType.VerifyLicencesResult },
  GetJwks: { request: MessageType.GetJwks, response: MessageType.Jwks },
  Deliver: { request: MessageType.Delivery, response: MessageType.DeliveryReceipt },
  PushMaterial: { request: MessageType.MaterialHeader, response: MessageType.MaterialReceipt },
  Resync: { request: MessageType.Resync, response: MessageType.ResyncState },
  // Signed envelope both ways, mutual TLS, and the peer's licence-type policy (StatusListServer).
  GetStatusList: { request: MessageType.GetStatusList, response: MessageType.StatusList },
};
