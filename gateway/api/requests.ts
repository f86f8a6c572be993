// Admin API over the request log: GET /api/requests, /api/requests/:id, /api/usage.
import type { Hono } from "hono";
import { z } from "zod";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "../http/env.js";
import { adapterFor } from "../providers/registry.js";
import { MAX_JSON_DEPTH, jsonShapeProblem, nestsDeeperThan } from "../proxy/json-shape.js";
import { ROUTES } from "../dialects/index.js";
import { scrubValue, scrubberFor } from "../proxy/scrub.js";
import type { Capture, RequestLog, RequestRow } from "../store/requests.js";
import { storedEvents } from "../stream/index.js";
import { requireRole } from "../http/require-role.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { TimeParam } from "./query.js";

const RequestQuery = z.strictObject({
  principal: z.string().optional(),
  model: z.string().optional(),
  provider: z.string().optional(),
  session: z.string().optional(),
  since: TimeParam,
  until: TimeParam,
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const UsageQuery = z.strictObject({ principal: z.string().optional(), since: TimeParam, until: TimeParam });

function decode(capture: Uint8Array | null): unknown {
  if (!capture) return null;
  const text = Buffer.from(capture).toString("utf8");
  // Too deep to serialize again without overflowing the stack: shown as the text it is.
  if (jsonShapeProblem(text, MAX_JSON_DEPTH, false)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A streamed response reassembled into the object a non-streamed call returns, when the format knows how. */
function rebuilt(routeId: string, headers: Readonly<Record<string, string>>, body: Uint8Array | null): unknown {
  const codec = ROUTES.find((r) => r.id === routeId)?.format;
  const events = body && codec?.rebuild ? storedEvents(headers["content-type"] ?? null, body) : null;
  if (!events || !codec?.rebuild) return undefined;
  const message = codec.rebuild(events);
  return nestsDeeperThan(message) ? undefined : message;
}

function bodyText(body: Uint8Array | null, binary: boolean): unknown {
  if (!body) return null;
  return binary ? { base64: Buffer.from(body).toString("base64") } : decode(body);
}

/**
 * A capture as people read it: bodies decoded (JSON parsed where it is JSON), a streamed response also rebuilt. The
 * capture was scrubbed byte by byte; rebuilding joins text deltas, which can join a key an upstream cut in two.
 */
export function captureView(row: RequestRow, capture: Capture, config: Config) {
  const provider = row.provider ? config.providers[row.provider] : undefined;
  const scrubber = scrubberFor(provider ? adapterFor(provider).secrets(provider) : []);
  return {
    request: { headers: capture.requestHeaders, body: decode(capture.requestBody), truncated: capture.requestTruncated },
    response: {
      headers: capture.responseHeaders,
      body: bodyText(capture.responseBody, (capture.responseHeaders["content-type"] ?? "").includes("eventstream")),
      rebuilt: scrubValue(rebuilt(row.route, capture.responseHeaders, capture.responseBody), scrubber),
      truncated: capture.responseTruncated,
    },
  };
}

export function mountRequestApi(app: Hono<GatewayEnv>, log: RequestLog): void {
  app.get("/api/requests", requireRole("admin"), async (c) => {
    const q = RequestQuery.safeParse(c.req.query());
    if (!q.success) return apiError(c, 400, "invalid_query", zodMessage(q.error));
    return c.json({ requests: await log.list(q.data) });
  });
  app.get("/api/requests/:id", requireRole("admin"), async (c) => {
    const found = await log.get(c.req.param("id"));
    if (!found) return apiError(c, 404, "not_found", `no request ${c.req.param("id")}`);
    return c.json({ request: found.row, capture: found.capture && captureView(found.row, found.capture, c.var.caller.config) });
  });
  app.get("/api/usage", requireRole("admin"), async (c) => {
    const q = UsageQuery.safeParse(c.req.query());
    if (!q.success) return apiError(c, 400, "invalid_query", zodMessage(q.error));
    return c.json({ usage: await log.usage(q.data) });
  });
}
