// Reads a request body up to a limit without trusting Content-Length.

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the gateway's limit of ${limit} bytes`);
  }
}

export async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge(limit);
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
