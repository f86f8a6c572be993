// The exchange as the answering target saw it: provider, model and grant key of the target that answered, so the row
// names it and the cost is priced at its prices. Every attempt travels in the exchange's state for the routing
// plugin, which writes them with the request's row.
import { modelKey } from "../access/grants.js";
import { type Exchange, stateSlot } from "./exchange.js";
import type { UpstreamResponse } from "./upstream.js";
import type { RoutePlan } from "./route-plan.js";
import type { Attempt, RouteResult } from "./fallback.js";

export const ROUTING_STATE = stateSlot<RoutingState>("routing");

export interface RoutingState {
  readonly attempts: readonly Attempt[];
  /** The provider and key that answered, for per-key usage. */
  readonly answered: { readonly provider: string; readonly key: string } | null;
}

export function routedExchange(ex: Exchange, plan: RoutePlan, routed: RouteResult): Exchange {
  const state: RoutingState = { attempts: routed.attempts, answered: routed.ok ? { provider: routed.target.provider.name, key: routed.key.name } : null };
  ex.state.set(ROUTING_STATE, state);
  if (plan.requested !== plan.model) ex.flags.push(`alias:${plan.requested}`);
  if (routed.attempts.some((a) => a.outcome === "failed")) ex.flags.push("fallback");
  if (!routed.ok) return ex;
  const { target } = routed;
  if (target.provider.name === ex.provider.name && target.model === ex.model) return ex;
  return { ...ex, provider: target.provider, model: target.model, modelKey: modelKey(target.provider.name, target.model) };
}

/** The upstream's answer in the client's framing (a translated target's stream re-framed). */
export function routedResponse(routed: Extract<RouteResult, { ok: true }>): UpstreamResponse {
  const { upstream, target } = routed;
  const reframing = target.translation?.stream;
  const ok = upstream.status >= 200 && upstream.status < 300;
  if (!reframing || !ok || upstream.headers.get("content-type")?.includes("json")) return upstream;
  const headers = new Headers(upstream.headers);
  headers.set("content-type", reframing.contentType);
  headers.delete("content-length");
  return { status: upstream.status, headers, body: reframing.reframe(upstream.body) };
}
