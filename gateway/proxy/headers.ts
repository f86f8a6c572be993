// Which headers cross the gateway, in each direction.
import type { Scrubber } from "./scrub.js";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** Client credentials: never forwarded upstream, redacted in captures. */
const CREDENTIALS = new Set(["authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "x-amz-security-token"]);

/** Headers that claim an identity or a network path; identity comes from WhoIs only. */
const IDENTITY_CLAIMS = /^(tailscale-|x-forwarded-|forwarded$|x-real-ip$|x-client-ip$|cf-connecting-ip$|true-client-ip$)/;

/** SigV4 and Google auth artefacts of the client; the gateway signs anew. */
const CLIENT_SIGNING = /^(x-amz-date|x-amz-content-sha256|x-amz-user-agent|x-goog-user-project|amz-sdk-)/;

/**
 * Headers that pick which account the gateway's key bills (OpenAI's organization and project): the admin's choice,
 * set with the provider's `headers`, never the caller's.
 */
const BILLING_SELECTORS = new Set(["openai-organization", "openai-project"]);

/** The headers a caller's own provider credential travels in (forwarded only to a passthrough provider). */
const PASSTHROUGH_CREDENTIALS = ["authorization", "x-api-key", "x-goog-api-key"] as const;

/** The caller's credential headers, and the secret part of each (what scrubbing must hide: the token, not "Bearer"). */
export function clientCredentials(client: Headers): { name: string; value: string; secret: string }[] {
  return PASSTHROUGH_CREDENTIALS.flatMap((name) => {
    const value = client.get(name)?.trim();
    if (!value) return [];
    return [{ name, value, secret: value.replace(/^bearer\s+/i, "") }];
  });
}

export function upstreamHeaders(client: Headers): Headers {
  const out = new Headers();
  client.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || CREDENTIALS.has(name) || IDENTITY_CLAIMS.test(name) || CLIENT_SIGNING.test(name)) return;
    if (BILLING_SELECTORS.has(name)) return;
    // Upstream answers uncompressed or fetch decodes it; either way the client gets plain bytes it can read.
    if (name === "accept-encoding") return;
    out.set(name, value);
  });
  return out;
}

/** Response headers passed back: hop-by-hop and encoding headers dropped (fetch already decoded the body). */
export function clientResponseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  upstream.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || name === "content-encoding") return;
    out.append(name, value);
  });
  return out;
}

const SECRET_RESPONSE_HEADERS = new Set(["set-cookie"]);

/** Headers as a plain object for a capture, credentials replaced by "[redacted]". */
export function redactedHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = CREDENTIALS.has(name) || SECRET_RESPONSE_HEADERS.has(name) || name === "proxy-authorization" ? "[redacted]" : value;
  });
  return out;
}

/** An upstream's headers with secrets scrubbed from their values; a header whose name holds one is dropped. */
export function scrubbedHeaders(upstream: Headers, scrubber: Scrubber): Headers {
  if (scrubber.empty) return upstream;
  // One scan of all names and values, line by line: a secret in any of them is in the whole (a line break stops every
  // encoding's match as the start of a header would), so only a block that holds one is rebuilt header by header.
  let block = "";
  upstream.forEach((value, name) => (block += `${name}\n${value}\n`));
  if (!scrubber.found(Buffer.from(block))) return upstream;
  const out = new Headers();
  upstream.forEach((value, name) => {
    if (scrubber.text(name) === name) out.append(name, scrubber.text(value));
  });
  return out;
}
