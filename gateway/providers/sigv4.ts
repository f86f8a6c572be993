// AWS Signature V4 for requests the gateway forwards, with @smithy/signature-v4 and node's own SHA-256.
// Signs the exact URL that is fetched, and only headers fetch will not touch, so the signature survives the trip.
import { createHash, createHmac, type Hash, type Hmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentity, Checksum, Provider, SourceData } from "@smithy/types";

/** node:crypto behind smithy's Checksum interface (sha256-js is pure JS and slower on large bodies). */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash("sha256") : createHmac("sha256", toBytes(this.secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === "string") return Buffer.from(data, "utf8");
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Headers included in the signature besides host and the x-amz-* ones the signer adds. */
const SIGNED = /^(content-type|accept|x-amzn-.*)$/;

export interface AwsSigner {
  /** Adds authorization, x-amz-date, x-amz-content-sha256 (and x-amz-security-token) to `headers`. */
  sign(url: URL, method: string, headers: Headers, body: Uint8Array | null): Promise<void>;
}

export function createSigner(options: {
  readonly region: string;
  readonly service: string;
  readonly credentials: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
}): AwsSigner {
  const signer = new SignatureV4({ ...options, sha256: NodeSha256, uriEscapePath: true, applyChecksum: true });
  return {
    async sign(url, method, headers, body) {
      const payloadHash = body && body.byteLength > 0 ? createHash("sha256").update(body).digest("hex") : EMPTY_SHA256;
      const toSign: Record<string, string> = { host: url.host, "x-amz-content-sha256": payloadHash };
      headers.forEach((value, name) => {
        if (SIGNED.test(name)) toSign[name] = value;
      });
      const query: Record<string, string | string[]> = {};
      for (const name of new Set(url.searchParams.keys())) {
        const values = url.searchParams.getAll(name);
        query[name] = values.length === 1 ? values[0]! : values;
      }
      const signed = await signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port ? { port: Number(url.port) } : {}),
        path: url.pathname,
        query,
        headers: toSign,
        // The payload hash is already in x-amz-content-sha256; the signer need not see (or copy) the body.
        body: undefined,
      });
      for (const name of ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"]) {
        const value = signed.headers[name];
        if (value !== undefined) headers.set(name, value);
      }
    },
  };
}
