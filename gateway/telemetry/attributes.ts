// A request as OpenTelemetry's GenAI semantic conventions describe a model call (span name "{operation} {model}",
// gen_ai.* attributes), plus keyless's own keyless.* attributes: who called, in which CI session, at what cost.
// Only the recorded row and the response summary are read: never a header but the trace context, so no provider key
// or client credential can reach an attribute.
import type { Attributes } from "@opentelemetry/api";
import { ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE } from "@opentelemetry/semantic-conventions";
import {
  ATTR_GEN_AI_CONVERSATION_ID,
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_REQUEST_STREAM,
  ATTR_GEN_AI_RESPONSE_FINISH_REASONS,
  ATTR_GEN_AI_RESPONSE_ID,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_GEN_AI_SYSTEM,
  ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_INPUT_TOKENS,
  ATTR_GEN_AI_USAGE_OUTPUT_TOKENS,
  ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
  GEN_AI_OPERATION_NAME_VALUE_CHAT,
  GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT,
  GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  GEN_AI_PROVIDER_NAME_VALUE_AWS_BEDROCK,
  GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
  GEN_AI_PROVIDER_NAME_VALUE_GCP_VERTEX_AI,
  GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
} from "@opentelemetry/semantic-conventions/incubating";
import type { ProviderType } from "../config/providers.js";
import { NANOS_PER_DOLLAR } from "../config/units.js";
import type { TracedRequest } from "../proxy/traced.js";

const PROVIDER_NAME: Readonly<Record<ProviderType, string>> = {
  anthropic: GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC,
  openai: GEN_AI_PROVIDER_NAME_VALUE_OPENAI,
  gemini: GEN_AI_PROVIDER_NAME_VALUE_GCP_GEMINI,
  vertex: GEN_AI_PROVIDER_NAME_VALUE_GCP_VERTEX_AI,
  bedrock: GEN_AI_PROVIDER_NAME_VALUE_AWS_BEDROCK,
};

/** The GenAI operation a route performs: Gemini's API is generate_content, token counting is its own operation. */
export function operationOf(routeId: string): string {
  if (routeId.includes("count_tokens")) return "count_tokens";
  if (routeId.endsWith("gemini.generate")) return GEN_AI_OPERATION_NAME_VALUE_GENERATE_CONTENT;
  return GEN_AI_OPERATION_NAME_VALUE_CHAT;
}

export function providerNameOf(type: ProviderType | null): string | undefined {
  return type ? PROVIDER_NAME[type] : undefined;
}

export function spanName(r: TracedRequest): string {
  const operation = operationOf(r.row.route);
  return r.requestedModel ? `${operation} ${r.requestedModel}` : operation;
}

/** What went wrong, as error.type wants it: the refusal's category, else the HTTP status. */
export function errorType(r: TracedRequest): string | undefined {
  const { row } = r;
  if (row.denial) return row.denial.split(":")[0];
  // Upstreams choose the status: anything outside HTTP's range is one value (it is a metric attribute too).
  if (row.status >= 400) return row.status <= 599 ? String(row.status) : "other";
  return row.error ? "stream_error" : undefined;
}

function genAi(r: TracedRequest): Attributes {
  const { row, summary } = r;
  const provider = providerNameOf(r.providerType);
  const attributes: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: operationOf(row.route),
    [ATTR_GEN_AI_PROVIDER_NAME]: provider,
    // The name the conventions used before gen_ai.provider.name, still what many backends read.
    [ATTR_GEN_AI_SYSTEM]: provider,
    [ATTR_GEN_AI_REQUEST_MODEL]: r.requestedModel ?? undefined,
    [ATTR_GEN_AI_REQUEST_STREAM]: row.streamed,
    [ATTR_GEN_AI_CONVERSATION_ID]: row.client_session ?? undefined,
  };
  if (!summary) return attributes;
  attributes[ATTR_GEN_AI_RESPONSE_MODEL] = summary.model ?? row.model ?? undefined;
  attributes[ATTR_GEN_AI_RESPONSE_ID] = summary.responseId;
  if (summary.stopReason) attributes[ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = [summary.stopReason];
  const usage = summary.usage;
  if (usage) {
    // The conventions count cached input as input; keyless's own input count leaves it out.
    attributes[ATTR_GEN_AI_USAGE_INPUT_TOKENS] = usage.input + usage.cacheRead + usage.cacheWrite;
    attributes[ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output;
    attributes[ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cacheRead;
    attributes[ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cacheWrite;
    if (usage.reasoning > 0) attributes[ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning;
  }
  return attributes;
}

function keyless(r: TracedRequest): Attributes {
  const { row, session } = r;
  return {
    "keyless.request.id": row.id,
    "keyless.principal": row.principal,
    "keyless.provider": row.provider ?? undefined,
    "keyless.route": row.route,
    "keyless.cost_usd": row.cost_nanos === null ? undefined : row.cost_nanos / NANOS_PER_DOLLAR,
    "keyless.tool_calls": row.tool_calls,
    "keyless.flags": row.flags.length > 0 ? [...row.flags] : undefined,
    "keyless.denial": row.denial ? row.denial.split(":")[0] : undefined,
    "keyless.session.id": session?.id,
    "keyless.repository": session?.repository,
    "keyless.pr": session?.prNumber ?? undefined,
    "keyless.workflow": session?.workflow,
    "keyless.run.id": session?.runId,
  };
}

export function spanAttributes(r: TracedRequest): Attributes {
  const error = errorType(r);
  return { ...genAi(r), ...keyless(r), [ATTR_HTTP_RESPONSE_STATUS_CODE]: r.row.status, ...(error ? { [ATTR_ERROR_TYPE]: error } : {}) };
}
