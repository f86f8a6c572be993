// What the request path needs from the running gateway, passed in per request (the config is the snapshot the request
// started under). Its own module so that the steps of the path (handler, respond, record) all depend on it, not on
// each other in a circle.
import type { Config } from "../config/schema.js";
import type { Identity } from "../identity/types.js";
import type { Pricer } from "../pricing/prices.js";
import type { RequestLog } from "../store/requests.js";
import type { FramingRegistry } from "../stream/index.js";
import type { ExchangePlugin, SessionRef } from "./exchange.js";
import type { GatewayMetrics } from "./metrics.js";
import type { UpstreamClient } from "./upstream.js";
import type { RouteSender } from "./fallback.js";
import type { RequestTracer } from "./traced.js";

export interface ProxyDeps {
  readonly config: Config;
  readonly pricer: Pricer;
  readonly log: RequestLog;
  readonly plugins: readonly ExchangePlugin[];
  readonly framings: FramingRegistry;
  readonly upstream: UpstreamClient;
  readonly metrics: GatewayMetrics;
  /** OpenTelemetry (telemetry/); absent when off, and then nothing is built for it. */
  readonly tracer?: RequestTracer;
  /** Targets, keys and fallbacks (routing/). */
  readonly routing: RouteSender;
  readonly sessionFor: (identity: Identity) => SessionRef | null;
  readonly onError: (err: unknown, context: string) => void;
}
