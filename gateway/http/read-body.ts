// Reads a body up to a limit without trusting Content-Length.

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the gateway's limit of ${limit} bytes`);
  }
}

/**
 * Reads a request's (or a response's) body from the Node request stream when there is one (much cheaper than the WHATWG body), else from the
 * Request itself.
 */
export async function readBody(
  req: { readonly headers: Headers; readonly body: ReadableStream<Uint8Array> | null },
  limit: number,
  nodeBody?: AsyncIterable<Buffer>,
): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge(limit);
  if (nodeBody) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of nodeBody) {
      size += chunk.byteLength;
      if (size > limit) throw new BodyTooLarge(limit);
      chunks.push(chunk);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(limit);
    }
    chunks.push(value);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** TypeScript's DOM types want an ArrayBuffer-backed view; Node's buffers are one at run time. */
export function asBodyInit(bytes: Uint8Array | null): BodyInit | null {
  return bytes as Uint8Array<ArrayBuffer> | null;
}
