// Pieces the two OpenAI formats (Chat Completions and Responses) share: the error envelope.
import { type GatewayError, jsonResponse, statusOf } from "./codec.js";

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
