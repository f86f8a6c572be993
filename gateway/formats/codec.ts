// The contract every wire format implements: how to read a request, a response and a stream, and how to refuse.
import type { WireEvent } from "../stream/framing.js";
import type { ResponseSummary, ToolResult } from "./types.js";

export type FormatId = "anthropic-messages" | "openai-chat" | "openai-responses" | "gemini" | "bedrock-converse" | "bedrock-invoke";

/** Why the gateway itself answers instead of the upstream. Each format maps these to its own error shape. */
export type GatewayErrorKind =
  | "invalid_request" // 400
  | "authentication" // 401
  | "permission" // 403
  | "blocked" // 403, a hook or guardrail said no (Aperture's block envelope)
  | "not_found" // 404
  | "too_large" // 413
  | "rate_limit" // 429
  | "internal" // 500
  | "upstream" // 502
  | "unavailable" // 503
  | "timeout"; // 504

export const ERROR_STATUS: Record<GatewayErrorKind, number> = {
  invalid_request: 400,
  authentication: 401,
  permission: 403,
  blocked: 403,
  not_found: 404,
  too_large: 413,
  rate_limit: 429,
  internal: 500,
  upstream: 502,
  unavailable: 503,
  timeout: 504,
};

export interface GatewayError {
  readonly kind: GatewayErrorKind;
  readonly message: string;
  /** Overrides the status the kind implies (e.g. a hook's chosen status). */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
}


/** Accumulates a streamed response event by event; `finish` assembles what the stream said. */
export interface StreamAccumulator {
  push(event: WireEvent): void;
  finish(): ResponseSummary;
}

export interface RequestInfo {
  readonly model?: string;
  readonly stream: boolean;
}

/**
 * What in a request, beyond its size, decides what it can cost (read for the reservation, quotas/estimate.ts). Each
 * field is read in every spelling the provider accepts, at its worst when spelled twice.
 */
export interface CostDrivers {
  /** Output tokens allowed per choice (max_tokens and its spellings), when the request caps them. */
  readonly maxOutputTokens?: number;
  /** Completions asked for (n, candidateCount); each may use the whole output cap. */
  readonly choices: number;
  /** Provider-side tools declared (web search and fetch, code execution, file search, grounding, remote MCP). */
  readonly serverTools: number;
  /** The most server-tool calls the request allows (max_uses, max_tool_calls), when it caps every one. */
  readonly maxServerToolCalls?: number;
  /** A service tier billed above the list price (OpenAI "priority", Bedrock latency-optimized). */
  readonly premiumTier: boolean;
}

/** Rewrites the events of a stream the client sees (never what is logged). Emits zero or more events per input. */
export interface EventRewriter {
  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void;
  flush?(emit: (event: WireEvent) => void): void;
}

export interface FormatCodec {
  readonly id: FormatId;
  readonly framing: "sse" | "aws-eventstream";
  requestInfo(body: unknown): RequestInfo;
  costDrivers(body: unknown): CostDrivers;
  /** Tool results the agent reports back in this request (the outcome of earlier tool calls). */
  toolResults(body: unknown): readonly ToolResult[];
  parseResponse(body: unknown): ResponseSummary;
  accumulator(): StreamAccumulator;
  /**
   * Reassembles a stored stream into the one response object a non-streamed call would have returned, for reading a
   * capture. Runs when someone reads it, never on the response path.
   */
  rebuild?(events: readonly WireEvent[]): unknown;
  /** A gateway-generated error in this format's native shape. */
  errorResponse(error: GatewayError): Response;
  /** The last event to send when the upstream breaks mid-stream, so the client sees an error rather than a cut. */
  streamError(message: string): WireEvent | null;
  /** A change the gateway needs in the request (e.g. asking for streamed usage), with the matching client-side rewrite. */
  adjustRequest?(body: unknown): { readonly body: unknown; readonly rewriter: EventRewriter } | undefined;
}

export function jsonResponse(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

export function statusOf(error: GatewayError): number {
  return error.status ?? ERROR_STATUS[error.kind];
}

/** Parses JSON that a provider promised (tool arguments); keeps broken text visible instead of throwing. */
export function parseJsonArguments(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    return { _unparsed: text };
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function num(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** A count as a provider accepts it: a JSON number, or a decimal string (proto3 JSON takes both for integers). */
export function count(value: unknown): number | undefined {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** The largest count among the spellings of one field; undefined when none is a count. */
export function maxCount(...values: unknown[]): number | undefined {
  const counts = values.map(count).filter((n): n is number => n !== undefined);
  return counts.length > 0 ? Math.max(...counts) : undefined;
}

/** A field's value under its camelCase name and its proto snake_case name (Google's APIs accept both). */
export function spellings(obj: Record<string, unknown>, camel: string): unknown[] {
  const snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return snake === camel ? [obj[camel]] : [obj[camel], obj[snake]];
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

const MAX_RESULT_TEXT = 4096;

export function truncateText(text: string, max = MAX_RESULT_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more chars)`;
}
