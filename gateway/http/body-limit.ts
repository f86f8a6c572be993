// Request bodies of keyless's own routes: a limit per route, decided at the door after identity and before any read.
// Provider routes read their body themselves, under limits.max_body (proxy/handler.ts).
import type { Context, MiddlewareHandler } from "hono";
import type { GatewayEnv } from "./env.js";
import { BodyTooLarge, readBody } from "./read-body.js";
import { apiError } from "./api-error.js";

/** CI session calls and every other API body: JSON of a few fields. */
export const API_BODY_LIMIT = 64 * 1024;
/** The config API carries the config file's text. */
export const CONFIG_BODY_LIMIT = 1024 * 1024;

export function hasBody(headers: Headers): boolean {
  return headers.has("transfer-encoding") || Number(headers.get("content-length") ?? "0") > 0;
}

/** A stream that fails once more than `limit` bytes passed: every reader of the request is bounded, none buffers more. */
function bounded(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  let size = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size > limit) controller.error(new BodyTooLarge(limit));
        else controller.enqueue(chunk);
      },
    }),
  );
}

/** A route's body limit, and whether the route reads its body itself (the proxy, which refuses in its own shape). */
export interface BodyPolicy {
  readonly limit: number;
  readonly readsOwnBody: boolean;
}

/**
 * Sets c.var.bodyLimit; a declared length over it is refused (413) without reading a byte, and the connection is
 * closed rather than drained; a body without a length fails its reader at the limit. Routes that read their body
 * themselves are left to it.
 */
export function limitBodies(policyFor: (c: Context<GatewayEnv>) => BodyPolicy, tooLarge: (c: Context<GatewayEnv>, limit: number) => Response): MiddlewareHandler<GatewayEnv> {
  return async function bodyLimit(c, next) {
    const { limit, readsOwnBody } = policyFor(c);
    c.set("bodyLimit", limit);
    const headers = c.req.raw.headers;
    if (!hasBody(headers) || readsOwnBody) return next();
    const declared = Number(headers.get("content-length") ?? "NaN");
    if (Number.isFinite(declared) && declared > limit) return closing(tooLarge(c, limit));
    if (c.req.raw.body) {
      c.req.raw = new Request(c.req.raw, { body: bounded(c.req.raw.body, limit), duplex: "half" } as RequestInit);
    }
    await next();
  };
}

/** A refusal sent before the body was read: close the connection instead of draining what the client still sends. */
export function closing(res: Response): Response {
  res.headers.set("connection", "close");
  return res;
}

export type JsonBody = { ok: true; value: unknown } | { ok: false; response: Response };

/** The request's JSON body under c.var.bodyLimit: 413 beyond it, 400 when it is not JSON. */
export async function readJson(c: Context<GatewayEnv>): Promise<JsonBody> {
  let bytes: Uint8Array;
  try {
    bytes = await readBody(c.req.raw, c.get("bodyLimit") ?? API_BODY_LIMIT);
  } catch (err) {
    if (err instanceof BodyTooLarge) return { ok: false, response: closing(apiError(c, 413, "body_too_large", err.message)) };
    return { ok: false, response: apiError(c, 400, "invalid_body", "could not read the request body") };
  }
  try {
    return { ok: true, value: JSON.parse(new TextDecoder().decode(bytes)) };
  } catch {
    return { ok: false, response: apiError(c, 400, "invalid_json", "request body is not JSON") };
  }
}
