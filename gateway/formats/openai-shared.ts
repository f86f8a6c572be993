// Pieces the two OpenAI formats (Chat Completions and Responses) share: the request's model and stream flag, the usage
// object and the error envelope.
import { type GatewayError, type RequestInfo, isRecord, jsonResponse, num, statusOf, str } from "./codec.js";
import type { Usage } from "./types.js";

/** Both name the model and ask for a stream in the body's top level. */
export function openaiRequestInfo(body: unknown): RequestInfo {
  if (!isRecord(body)) return { stream: false };
  return { model: str(body.model), stream: body.stream === true };
}

/**
 * OpenAI's usage object. Chat names its counts prompt/completion, Responses input/output; otherwise they agree:
 * cached and cache-write tokens are part of the input count, reasoning tokens part of the output.
 */
export function openaiUsage(u: unknown, names: { readonly input: "prompt" | "input"; readonly output: "completion" | "output" }): Usage | null {
  if (!isRecord(u)) return null;
  const inDetails = u[`${names.input}_tokens_details`];
  const outDetails = u[`${names.output}_tokens_details`];
  const cacheRead = isRecord(inDetails) ? num(inDetails.cached_tokens) : 0;
  const cacheWrite = isRecord(inDetails) ? num(inDetails.cache_write_tokens) : 0;
  return {
    input: Math.max(0, num(u[`${names.input}_tokens`]) - cacheRead - cacheWrite),
    cacheRead,
    cacheWrite,
    output: num(u[`${names.output}_tokens`]),
    reasoning: isRecord(outDetails) ? num(outDetails.reasoning_tokens) : 0,
  };
}

const ERROR_TYPES: Record<GatewayError["kind"], { type: string; code: string | null }> = {
  invalid_request: { type: "invalid_request_error", code: null },
  authentication: { type: "invalid_request_error", code: "invalid_api_key" },
  permission: { type: "permission_error", code: "permission_denied" },
  blocked: { type: "guardrail_blocked", code: null },
  not_found: { type: "invalid_request_error", code: "model_not_found" },
  too_large: { type: "invalid_request_error", code: "request_too_large" },
  rate_limit: { type: "insufficient_quota", code: "insufficient_quota" },
  internal: { type: "server_error", code: null },
  upstream: { type: "server_error", code: "upstream_error" },
  unavailable: { type: "server_error", code: "unavailable" },
  timeout: { type: "server_error", code: "timeout" },
};

export function openaiError(error: GatewayError): Response {
  const { type, code } = ERROR_TYPES[error.kind];
  return jsonResponse(statusOf(error), { error: { message: error.message, type, param: null, code } }, error.headers);
}
