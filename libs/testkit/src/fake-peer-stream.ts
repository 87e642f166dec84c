import { Metadata, ServiceError } from '@grpc/grpc-js';
import { Envelope, FederationServiceClient, PushMaterialResponse } from '@tongban/proto';
import { credentialsFor, RawResult, TlsAs } from './fake-peer';

/**
 * Sends a PushMaterial stream as a (possibly hostile) test party: `envelope` in the first message
 * (from FakePeer.craft with mty MaterialHeader), then each of `chunks`, and reports the outcome.
 */
export async function pushMaterial(endpoint: string, envelope: Envelope | undefined, chunks: Uint8Array[], as?: TlsAs): Promise<RawResult> {
  const client = new FederationServiceClient(endpoint, await credentialsFor(as, envelope));
  return new Promise<RawResult>((resolve) => {
    const stream = client.pushMaterial(new Metadata(), { deadline: Date.now() + 10_000 }, (err: ServiceError | null, res?: PushMaterialResponse) => {
      client.close();
      if (err) resolve({ code: err.code, refusal: String(err.metadata?.get('tongban-refusal')?.[0] ?? ''), details: err.details });
      else resolve({ envelope: res?.envelope });
    });
    stream.write({ envelope, chunk: Buffer.alloc(0) });
    for (const chunk of chunks) stream.write({ envelope: undefined, chunk: Buffer.from(chunk) });
    stream.end();
  });
}

/** `bytes` cut into pieces of `size` bytes (PushMaterial chunks are at most 64 KiB). */
export function chunked(bytes: Uint8Array, size = 64 * 1024): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}
