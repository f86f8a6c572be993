// Checks an AWS Signature V4 the way AWS does, written from the spec with node:crypto (independent of the
// @smithy signer the gateway uses): canonical request with double-encoded path segments, sorted query, the
// signed headers only, the body's SHA-256; signing key derived from the secret, date, region and service.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface AwsTestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignedRequest {
  readonly method: string;
  /** The request target exactly as received: path and query, still percent-encoded. */
  readonly rawTarget: string;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly status: number; readonly type: string; readonly message: string };

const MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/** RFC 3986 unreserved characters stay; every other byte becomes %XX (uppercase). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(query: string): string {
  if (query === "") return "";
  const pairs = query.split("&").filter(Boolean).map((part) => {
    const i = part.indexOf("=");
    const [k, v] = i === -1 ? [part, ""] : [part.slice(0, i), part.slice(i + 1)];
    return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
  });
  pairs.sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

const hmac = (key: Uint8Array | string, data: string) => createHmac("sha256", key).update(data, "utf8").digest();
const sha256hex = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");

export function verifySigV4(req: SignedRequest, creds: AwsTestCredentials, expect: { region: string; service: string; now?: Date }): Verdict {
  const deny = (status: number, type: string, message: string): Verdict => ({ ok: false, status, type, message });
  const auth = req.headers.get("authorization") ?? "";
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return deny(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  const [, akid, date, region, service, signedHeaderList, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (akid !== creds.accessKeyId) return deny(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
  if (region !== expect.region || service !== expect.service) {
    return deny(403, "InvalidSignatureException", `Credential should be scoped to a valid region and service ('${expect.region}', '${expect.service}').`);
  }
  const amzDate = req.headers.get("x-amz-date") ?? "";
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) return deny(403, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP");
  const signedAt = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs((expect.now ?? new Date()).getTime() - signedAt) > 15 * 60_000) return deny(403, "InvalidSignatureException", "Signature expired");
  const signed = signedHeaderList.split(";");
  if (!signed.includes("host")) return deny(403, "InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  if (creds.sessionToken !== undefined && req.headers.get("x-amz-security-token") !== creds.sessionToken) {
    return deny(403, "UnrecognizedClientException", "The security token included in the request is invalid.");
  }
  const bodyHash = sha256hex(req.body);
  const claimed = req.headers.get("x-amz-content-sha256");
  if (claimed !== null && claimed !== bodyHash && claimed !== "UNSIGNED-PAYLOAD") {
    return deny(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  const q = req.rawTarget.indexOf("?");
  const rawPath = q === -1 ? req.rawTarget : req.rawTarget.slice(0, q);
  const rawQuery = q === -1 ? "" : req.rawTarget.slice(q + 1);
  const canonicalPath = rawPath.split("/").map(uriEncode).join("/") || "/";
  const canonicalHeaders = signed.map((name) => `${name}:${(req.headers.get(name) ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalRequest = [req.method, canonicalPath, canonicalQuery(rawQuery), canonicalHeaders, signedHeaderList, claimed ?? bodyHash].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256hex(canonicalRequest)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date), region), service), "aws4_request");
  const expected = hmac(key, stringToSign);
  const given = Buffer.from(signature, "hex");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return deny(403, "InvalidSignatureException", MISMATCH);
  return { ok: true };
}
