// GenAI client metrics (semantic conventions): token usage and operation duration per operation, provider and model,
// plus keyless's cost counter. Models are attributes only when the gateway knows them (like /metrics' labels): a
// caller choosing model names must not grow the number of series without bound. Principals are never attributes.
import type { Meter } from "@opentelemetry/api";
import { ATTR_ERROR_TYPE } from "@opentelemetry/semantic-conventions";
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_TOKEN_TYPE,
  GEN_AI_TOKEN_TYPE_VALUE_INPUT,
  GEN_AI_TOKEN_TYPE_VALUE_OUTPUT,
  METRIC_GEN_AI_CLIENT_OPERATION_DURATION,
  METRIC_GEN_AI_CLIENT_TOKEN_USAGE,
} from "@opentelemetry/semantic-conventions/incubating";
import { NANOS_PER_DOLLAR } from "../config/units.js";
import type { TracedRequest } from "../proxy/traced.js";
import { errorType, operationOf, providerNameOf } from "./attributes.js";

// The bucket boundaries the conventions advise.
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

export function genAiMetrics(meter: Meter): { record(r: TracedRequest): void } {
  const tokens = meter.createHistogram(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
    unit: "{token}",
    description: "Tokens used per request, by gen_ai.token.type",
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  });
  const duration = meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, {
    unit: "s",
    description: "Time from the request's arrival to the end of its response",
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const cost = meter.createCounter("keyless.cost", { unit: "USD", description: "Estimated cost of the requests keyless priced" });
  return {
    record(r) {
      const { row } = r;
      const common = {
        [ATTR_GEN_AI_OPERATION_NAME]: operationOf(row.route),
        [ATTR_GEN_AI_PROVIDER_NAME]: providerNameOf(r.providerType) ?? "-",
        [ATTR_GEN_AI_REQUEST_MODEL]: row.model ? (r.knownModel ? row.model : "other") : "-",
      };
      const error = errorType(r);
      duration.record(row.duration_ms / 1000, error ? { ...common, [ATTR_ERROR_TYPE]: error } : common);
      const usage = r.summary?.usage;
      if (usage) {
        tokens.record(usage.input + usage.cacheRead + usage.cacheWrite, { ...common, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_INPUT });
        tokens.record(usage.output, { ...common, [ATTR_GEN_AI_TOKEN_TYPE]: GEN_AI_TOKEN_TYPE_VALUE_OUTPUT });
      }
      if (row.cost_nanos) cost.add(row.cost_nanos / NANOS_PER_DOLLAR, common);
    },
  };
}
