// Bedrock control-plane reads that clients make before their first model call: ListInferenceProfiles
// (Claude Code in Bedrock mode asks for the SYSTEM_DEFINED ones) and GetInferenceProfile. Forwarded signed to the
// configured account; the list is cut down to the profiles the caller's grants allow, and a single profile is
// fetched only if the caller may use it. Not model calls, so not logged as requests.
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "../http/env.js";
import { bedrockError } from "../formats/bedrock.js";
import { isRecord, str } from "../formats/codec.js";
import { type Access, allowsModel, modelKey } from "../access/grants.js";
import { globMatch } from "../config/glob.js";
import type { BedrockAdapter, BedrockConfig } from "../providers/bedrock.js";
import { PROVIDERS } from "../providers/registry.js";
import { ProviderAuthError } from "../providers/types.js";
import { asBodyInit } from "../http/read-body.js";
import { clientResponseHeaders, scrubbedHeaders } from "./headers.js";
import { scrubberFor } from "./scrub.js";

const ListQuery = z.object({
  maxResults: z.string().regex(/^\d{1,4}$/).optional(),
  nextToken: z.string().max(2048).optional(),
  type: z.enum(["SYSTEM_DEFINED", "APPLICATION"]).optional(),
});

const TIMEOUT_MS = 30_000;

interface Bedrock {
  readonly name: string;
  readonly config: BedrockConfig;
}

function bedrockProviders(config: Config): Bedrock[] {
  const out: Bedrock[] = [];
  for (const [name, provider] of Object.entries(config.providers)) {
    if (provider.type === "bedrock" && PROVIDERS.bedrock.configured(provider)) out.push({ name, config: provider });
  }
  return out;
}

const mayUse = (access: Access, p: Bedrock, id: string) => p.config.models.some((g) => globMatch(g, id)) && allowsModel(access, modelKey(p.name, id));

export function mountBedrockControl(app: Hono<GatewayEnv>, doFetch: typeof fetch): void {
  const adapter: BedrockAdapter = PROVIDERS.bedrock;

  const forward = async (p: Bedrock, path: string, query: URLSearchParams): Promise<{ res: Response; headers: Headers; body: Uint8Array } | Response> => {
    try {
      const req = await adapter.prepareControl({ path, query, method: "GET", headers: new Headers({ accept: "application/json" }), body: null }, p.config);
      const upstream = await doFetch(req.url, { method: "GET", headers: req.headers, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
      const scrubber = scrubberFor(adapter.secrets(p.config));
      const body = scrubber.bytes(new Uint8Array(await upstream.arrayBuffer()));
      return { res: upstream, headers: clientResponseHeaders(scrubbedHeaders(upstream.headers, scrubber)), body };
    } catch (err) {
      if (err instanceof ProviderAuthError) return bedrockError({ kind: "unavailable", message: `provider "${p.name}": ${err.message}` });
      return bedrockError({ kind: "upstream", message: `upstream ${p.name} failed: ${(err as Error).message}` });
    }
  };

  const callerAccess = (c: Context<GatewayEnv>): Access | Response => {
    const { access } = c.var.caller;
    return access.role === null ? bedrockError({ kind: "permission", message: "access denied: no role granted" }) : access;
  };

  const list = async (c: Context<GatewayEnv>) => {
    const access = callerAccess(c);
    if (access instanceof Response) return access;
    const parsed = ListQuery.safeParse(Object.fromEntries(new URL(c.req.url).searchParams));
    if (!parsed.success) return bedrockError({ kind: "invalid_request", message: "invalid inference-profiles query" });
    const [p] = bedrockProviders(c.var.caller.config);
    if (!p) return bedrockError({ kind: "not_found", message: "no Bedrock provider is configured on this gateway" });
    const query = new URLSearchParams(Object.entries(parsed.data).filter((e): e is [string, string] => e[1] !== undefined));
    const got = await forward(p, "/inference-profiles", query);
    if (got instanceof Response) return got;
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(got.body).toString("utf8"));
    } catch {
      json = undefined;
    }
    const { headers } = got;
    if (!got.res.ok || !isRecord(json) || !Array.isArray(json.inferenceProfileSummaries)) {
      return new Response(asBodyInit(got.body), { status: got.res.status, headers });
    }
    const allowed = json.inferenceProfileSummaries.filter((s) => {
      if (!isRecord(s)) return false;
      const ids = [str(s.inferenceProfileId), str(s.inferenceProfileArn)].filter((v): v is string => v !== undefined);
      return ids.some((id) => mayUse(access, p, id));
    });
    return new Response(JSON.stringify({ ...json, inferenceProfileSummaries: allowed }), { status: 200, headers });
  };

  const get = async (c: Context<GatewayEnv>) => {
    const access = callerAccess(c);
    if (access instanceof Response) return access;
    // From the raw path: an ARN's "/" arrives as %2F and must be decoded exactly once.
    let id: string;
    try {
      id = decodeURIComponent(new URL(c.req.url).pathname.split("/").at(-1) ?? "");
    } catch {
      return bedrockError({ kind: "invalid_request", message: "inference profile id is not valid percent-encoding" });
    }
    const p = bedrockProviders(c.var.caller.config).find((b) => mayUse(access, b, id));
    if (!p) return bedrockError({ kind: "not_found", message: `inference profile "${id.slice(0, 200)}" is not available to ${c.var.identity.principal}` });
    const got = await forward(p, `/inference-profiles/${encodeURIComponent(id)}`, new URLSearchParams());
    if (got instanceof Response) return got;
    return new Response(asBodyInit(got.body), { status: got.res.status, headers: got.headers });
  };

  for (const prefix of ["/bedrock", ""]) {
    app.get(`${prefix}/inference-profiles`, list);
    app.get(`${prefix}/inference-profiles/:id`, get);
  }
}
