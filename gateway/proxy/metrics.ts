// Prometheus metrics with prom-client, one registry per app (no global state). Every label comes from a bounded set:
// callers choose model names and the upstream chooses statuses, and each new label value is a new series kept forever,
// so unbounded values would let anyone grow /metrics until it fails. Principals are not labels at all.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RequestRow } from "../store/requests.js";

/** Distinct model names kept as label values; later ones count as "other". */
export const MAX_MODEL_LABELS = 100;

export interface GatewayMetrics {
  readonly registry: Registry;
  /** `knownModel`: the row's model is one this gateway knows (see modelIsKnown in record.ts); others are "other". */
  observe(row: RequestRow, knownModel: boolean): void;
  /** A request refused because its row could not be logged (the log's queue full, or its writer down). */
  refusedUnlogged(): void;
}

/** The request log's queue and writer, read at each scrape. */
export function observeRequestLog(registry: Registry, log: { readonly pending: number; readonly writerUp: boolean }): void {
  new Gauge({
    name: "keyless_request_log_pending",
    help: "Requests recorded and not yet committed to the store",
    registers: [registry],
    collect() {
      this.set(log.pending);
    },
  });
  new Gauge({
    name: "keyless_request_log_writer_up",
    help: "1 while the request log's writer runs; 0 while a dead one is replaced (new requests are refused meanwhile)",
    registers: [registry],
    collect() {
      this.set(log.writerUp ? 1 : 0);
    },
  });
}

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  const labels = ["provider", "model", "route"] as const;
  const requests = new Counter({
    name: "keyless_requests_total",
    help: "Requests by provider, model, route and status",
    labelNames: [...labels, "status"],
    registers: [registry],
  });
  const denials = new Counter({
    name: "keyless_denials_total",
    help: "Requests the gateway refused, by category",
    labelNames: ["category"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "keyless_request_duration_seconds",
    help: "Time from request to the end of the response",
    labelNames: labels,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const ttfb = new Histogram({
    name: "keyless_time_to_first_byte_seconds",
    help: "Time from request to the first response byte",
    labelNames: labels,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const tokens = new Counter({
    name: "keyless_tokens_total",
    help: "Tokens by provider, model and kind (input, cache_read, cache_write, output, reasoning)",
    labelNames: ["provider", "model", "kind"],
    registers: [registry],
  });
  const cost = new Counter({
    name: "keyless_cost_nanodollars_total",
    help: "Estimated cost in nanodollars by provider and model",
    labelNames: ["provider", "model"],
    registers: [registry],
  });
  const unlogged = new Counter({
    name: "keyless_requests_refused_unlogged_total",
    help: "Requests refused with a 503 because the request log could not take their row (queue full or writer down)",
    registers: [registry],
  });
  const models = new Set<string>();
  const modelLabel = (row: RequestRow, known: boolean): string => {
    if (!row.provider || !row.model) return "-";
    if (!known) return "other";
    if (!models.has(row.model)) {
      if (models.size >= MAX_MODEL_LABELS) return "other";
      models.add(row.model);
    }
    return row.model;
  };
  return {
    registry,
    refusedUnlogged: () => unlogged.inc(),
    observe(row, knownModel) {
      const l = { provider: row.provider ?? "-", model: modelLabel(row, knownModel), route: row.route };
      // Upstreams choose the status: anything outside HTTP's range is one value.
      requests.inc({ ...l, status: row.status >= 100 && row.status <= 599 ? String(row.status) : "other" });
      if (row.denial) denials.inc({ category: row.denial.split(":")[0] ?? "other" });
      duration.observe(l, row.duration_ms / 1000);
      if (row.ttfb_ms !== null) ttfb.observe(l, row.ttfb_ms / 1000);
      const t = { provider: l.provider, model: l.model };
      for (const [kind, n] of [
        ["input", row.input_tokens],
        ["cache_read", row.cache_read_tokens],
        ["cache_write", row.cache_write_tokens],
        ["output", row.output_tokens],
        ["reasoning", row.reasoning_tokens],
      ] as const) {
        if (n > 0) tokens.inc({ ...t, kind }, n);
      }
      if (row.cost_nanos) cost.inc(t, row.cost_nanos);
    },
  };
}
