// OpenTelemetry: one span per provider request (GenAI semantic conventions) and GenAI metrics, sent over OTLP/HTTP to
// a collector. Absent: no OpenTelemetry code runs at all.
import { z } from "zod";
import { Duration } from "./units.js";

export const TelemetryConfig = z.strictObject({
  otlp: z.strictObject({
    /** The collector's OTLP/HTTP base URL (http://collector:4318): spans go to /v1/traces, metrics to /v1/metrics. */
    endpoint: z.url({ protocol: /^https?$/ }),
    /** Sent with every export, e.g. {"authorization": "Bearer ${OTLP_TOKEN}"}; never logged. */
    headers: z.record(z.string(), z.string()).default({}),
    /** How long one export may take before it is given up (the spans in it are dropped, never retried forever). */
    timeout: Duration.default(10_000),
  }),
  /** service.name of every span and metric; replicas tell themselves apart by service.instance.id. */
  service_name: z.string().min(1).default("keyless"),
  /** How long an ended span may wait to be sent with others. */
  batch_delay: Duration.default(5_000),
  /** How often metrics are sent; "0" sends none. */
  metrics_interval: z.union([z.literal("0"), Duration]).transform((v) => (v === "0" ? 0 : v)).default(60_000),
});
export type TelemetryConfig = z.infer<typeof TelemetryConfig>;
