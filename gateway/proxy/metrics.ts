// Prometheus metrics with prom-client, one registry per app (no global state).
import { Counter, Histogram, Registry } from "prom-client";
import type { RequestRow } from "../store/requests.js";

export interface GatewayMetrics {
  readonly registry: Registry;
  observe(row: RequestRow): void;
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
  return {
    registry,
    observe(row) {
      // A refused request can name any model; only models a provider served become label values.
      const l = { provider: row.provider ?? "-", model: row.provider ? (row.model ?? "-") : "-", route: row.route };
      requests.inc({ ...l, status: String(row.status) });
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
