// The order of the request pipeline, written down once.
//
// A provider request passes: host and cross-site checks → identity, resolved into the Caller (http/identify.ts) →
// body limit → the features' public routes → identity required → the dialect's route (dialects/*/routes.ts) →
// body, model, entitlement (proxy/handler.ts) → each feature's before-step, in the order below → upstream → the
// response, through each feature's stream rewriter in the order below → each feature's after-step, in REVERSE order
// (the first feature in sees what every later one did) → the log row.
import type { GatewayModule } from "./proxy/feature.js";

export interface Features {
  /** CI sessions: attribution, session tokens, check runs (routes only; requests look their session up). */
  readonly ci: GatewayModule;
  /**
   * Secrets in traffic: before forwarding, credentials in the body are redacted (or the request refused), so the hooks
   * after it and the provider see the body as forwarded; after: secret findings stored, captures masked.
   */
  readonly secrets: GatewayModule;
  /** Webhooks: synchronous pre_request hooks may rewrite or refuse the body; events go out after. */
  readonly hooks: GatewayModule;
  /** Guardrails: stream and body rewriters hold back blocked tool calls; after: tool-call rows and findings. */
  readonly guardrails: GatewayModule;
  /** Rate limits (requests, tokens, concurrency): taken before the budget is reserved, given back after. */
  readonly rateLimits: GatewayModule;
  /** Budgets: reserve before forwarding (last: for the body as hooks left it), settle after (first). */
  readonly quotas: GatewayModule;
  /** Budget alerts: after the settlement has committed, thresholds crossed fire webhooks. */
  readonly alerts: GatewayModule;
  /** Routing: the key pool's API and per-key usage; after: the request's attempts with its row. */
  readonly routing: GatewayModule;
  /** Codex's Responses WebSocket: its upgrade route; before: flags requests that came over it. */
  readonly websocket: GatewayModule;
  /** The config API (read, validate, replace the running config). */
  readonly config: GatewayModule;
  /** The read-only web UI. */
  readonly ui: GatewayModule;
}

export function pipeline(f: Features): readonly GatewayModule[] {
  return [f.ci, f.secrets, f.hooks, f.guardrails, f.rateLimits, f.quotas, f.alerts, f.routing, f.websocket, f.config, f.ui];
}
