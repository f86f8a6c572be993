// What the request path hands to tracing (telemetry/) when a request's row is recorded: off the response path, once per
// request. Declared here so the path depends on an interface, and telemetry/ on the path, never the other way round.
import type { ProviderType } from "../config/providers.js";
import type { ResponseSummary } from "../formats/types.js";
import type { RequestRow } from "../store/requests.js";
import type { SessionRef } from "./exchange.js";

export interface TracedRequest {
  readonly row: RequestRow;
  /** performance.now() at arrival; the row's duration_ms ends it. */
  readonly started: number;
  /** Where `traceparent` and `tracestate` are read; nothing else is taken from them. */
  readonly clientHeaders: Headers;
  /** The model the client named (before aliases and fallbacks), when known. */
  readonly requestedModel: string | null;
  readonly providerType: ProviderType | null;
  /** What the response said (its model, finish reason); null for refusals. */
  readonly summary: ResponseSummary | null;
  readonly session: SessionRef | null;
  /** The model may be a metric attribute (see modelIsKnown in record.ts). */
  readonly knownModel: boolean;
}

export interface RequestTracer {
  ended(request: TracedRequest): void;
}
