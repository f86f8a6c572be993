// What Bedrock's two APIs (InvokeModel and Converse) share: AWS REST-JSON errors and event-stream exceptions.
import { exceptionEvent } from "../stream/eventstream.js";
import { type GatewayError, isRecord, jsonResponse, statusOf, str } from "./codec.js";
import type { WireEvent } from "../stream/framing.js";

const ERROR_TYPES: Record<GatewayError["kind"], string> = {
  invalid_request: "ValidationException",
  authentication: "UnrecognizedClientException",
  permission: "AccessDeniedException",
  blocked: "AccessDeniedException",
  not_found: "ResourceNotFoundException",
  too_large: "ValidationException",
  rate_limit: "ThrottlingException",
  internal: "InternalServerException",
  upstream: "InternalServerException",
  unavailable: "ServiceUnavailableException",
  timeout: "ModelTimeoutException",
};

/** AWS REST-JSON: the code in x-amzn-ErrorType, the text in {"message"} (what the AWS SDK and Anthropic's read). */
export function bedrockError(error: GatewayError): Response {
  return jsonResponse(statusOf(error), { message: error.message }, { "x-amzn-ErrorType": ERROR_TYPES[error.kind], ...error.headers });
}

/** The exception frame that ends a broken stream; both stream APIs model internalServerException. */
export function bedrockStreamError(message: string): WireEvent {
  return exceptionEvent("internalServerException", message);
}

/** An AWS error body ({"message"} or {"Message"}) as an error string; undefined for anything else. */
export function awsErrorMessage(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  return str(body.message) ?? str(body.Message);
}

/** The error an exception or error frame reports, or undefined for an ordinary event. */
export function streamFailure(event: WireEvent): string | undefined {
  const name = event.name ?? "";
  if (name.startsWith("error:")) return `${name.slice(6)}: ${event.data}`;
  if (!name.startsWith("exception:")) return undefined;
  let message = event.data;
  try {
    message = awsErrorMessage(JSON.parse(event.data)) ?? event.data;
  } catch {
    // Not JSON: report the payload as it came.
  }
  return `${name.slice(10)}: ${message}`;
}
