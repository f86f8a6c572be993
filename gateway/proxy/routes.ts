// The provider routes keyless serves, as clients call them. Each route rebuilds the upstream path from validated
// parts, so path tricks in the client's URL (.., encoded slashes, absolute URLs) can never choose the destination.
import type { ProviderType } from "../config/providers.js";
import type { FormatCodec } from "../formats/codec.js";
import { anthropicMessages } from "../dialects/anthropic/codec.js";
import { bedrockConverse } from "../dialects/bedrock-converse/codec.js";
import { bedrockInvoke } from "../dialects/bedrock-invoke/codec.js";
import { gemini } from "../dialects/gemini/codec.js";
import { openaiChat } from "../dialects/openai-chat/codec.js";
import { openaiResponses } from "../dialects/openai-responses/codec.js";
import { vertexAnthropic } from "../dialects/vertex-anthropic/codec.js";

export interface RouteDef {
  readonly id: string;
  readonly method: "POST" | "GET";
  readonly pattern: RegExp;
  readonly format: FormatCodec;
  readonly providerTypes: readonly ProviderType[];
  /** Query parameters forwarded upstream; everything else (e.g. `key=`) is dropped. */
  readonly query: readonly string[];
  /** Free operations (token counting) cost 0 rather than an estimate. */
  readonly billable: boolean;
  /** The upstream path for a match. Receives the validated model when the model is part of the path. */
  upstreamPath(match: RegExpExecArray, model: string): string;
  /** The model named in the path, if the route puts it there. */
  readonly modelFromPath?: (match: RegExpExecArray) => string;
  readonly streamFromPath?: (match: RegExpExecArray) => boolean;
}

export interface RouteMatch {
  readonly route: RouteDef;
  readonly match: RegExpExecArray;
}

/** Bedrock ARNs (application inference profiles, provisioned models): one slash, percent-encoded in any path. */
const BEDROCK_ARN = String.raw`arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{0,12}:[a-z-]+\/[A-Za-z0-9._:+-]+`;
/** Model ids: no slashes (but a Bedrock ARN's), no dot-segments, no control or URL-special characters. */
export const SAFE_MODEL = new RegExp(String.raw`^(?:(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._:@+-]*|${BEDROCK_ARN})$`);
const GEMINI_MODEL = /^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Vertex ids carry a version after "@" (claude-sonnet-4-6). */
const VERTEX_MODEL = /^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._@-]*$/;
/** Bedrock ids (us.anthropic.claude-…-v1:0) or ARNs, as decoded from the path. */
const BEDROCK_MODEL = new RegExp(String.raw`^(?:(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._:-]*|${BEDROCK_ARN})$`);

/** The longest model id accepted (the longest real ones, Bedrock ARNs, stay well under it). */
export const MAX_MODEL_LENGTH = 256;

/** Why a model id is refused, or null: too long, or characters outside `allowed`. Messages quote a bounded prefix. */
export function modelProblem(model: string, allowed: RegExp = SAFE_MODEL): string | null {
  if (model.length > MAX_MODEL_LENGTH) return `model "${model.slice(0, 64)}…" is ${model.length} characters long; the limit is ${MAX_MODEL_LENGTH}`;
  if (!allowed.test(model)) return `model "${model.slice(0, 200)}" contains characters keyless does not forward`;
  return null;
}

export function decodedSegment(raw: string, allowed: RegExp): string {
  // Checked before decoding too: percent-encoding makes a segment up to three times longer than the id.
  if (raw.length > MAX_MODEL_LENGTH * 3) throw new RouteError(modelProblem(raw, allowed)!);
  let model: string;
  try {
    model = decodeURIComponent(raw);
  } catch {
    throw new RouteError(`model "${raw.slice(0, 200)}" is not valid percent-encoding`);
  }
  const problem = modelProblem(model, allowed);
  if (problem) throw new RouteError(problem);
  return model;
}

export class RouteError extends Error {}

export const ROUTES: readonly RouteDef[] = [
  {
    id: "anthropic.messages",
    method: "POST",
    pattern: /^\/v1\/messages$/,
    format: anthropicMessages,
    providerTypes: ["anthropic"],
    query: ["beta"],
    billable: true,
    upstreamPath: () => "/v1/messages",
  },
  {
    id: "anthropic.count_tokens",
    method: "POST",
    pattern: /^\/v1\/messages\/count_tokens$/,
    format: anthropicMessages,
    providerTypes: ["anthropic"],
    query: ["beta"],
    billable: false,
    upstreamPath: () => "/v1/messages/count_tokens",
  },
  {
    id: "openai.chat",
    method: "POST",
    pattern: /^\/v1\/chat\/completions$/,
    format: openaiChat,
    providerTypes: ["openai"],
    query: [],
    billable: true,
    upstreamPath: () => "/v1/chat/completions",
  },
  {
    id: "openai.responses",
    method: "POST",
    pattern: /^\/v1\/responses$/,
    format: openaiResponses,
    providerTypes: ["openai"],
    query: [],
    billable: true,
    upstreamPath: () => "/v1/responses",
  },
  {
    id: "gemini.generate",
    method: "POST",
    pattern: /^\/(v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/,
    format: gemini,
    providerTypes: ["gemini"],
    query: ["alt"],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", GEMINI_MODEL),
    streamFromPath: (m) => m[3] === "streamGenerateContent",
    upstreamPath: (m, model) => `/${m[1]}/models/${model}:${m[3]}`,
  },
  {
    id: "gemini.count_tokens",
    method: "POST",
    pattern: /^\/(v1beta|v1)\/models\/([^/:]+):countTokens$/,
    format: gemini,
    providerTypes: ["gemini"],
    query: [],
    billable: false,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", GEMINI_MODEL),
    upstreamPath: (m, model) => `/${m[1]}/models/${model}:countTokens`,
  },
  // Vertex AI. The client's project and location are dropped: upstream paths are location-relative
  // ("/v1/publishers/…") and the vertex adapter inserts the configured project and region.
  {
    id: "vertex.anthropic.count_tokens",
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/count-tokens:rawPredict$/,
    format: vertexAnthropic,
    providerTypes: ["vertex"],
    query: [],
    billable: false,
    upstreamPath: (m) => `/${m[1]}/publishers/anthropic/models/count-tokens:rawPredict`,
  },
  {
    id: "vertex.anthropic",
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/,
    format: vertexAnthropic,
    providerTypes: ["vertex"],
    query: [],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    streamFromPath: (m) => m[3] === "streamRawPredict",
    upstreamPath: (m, model) => `/${m[1]}/publishers/anthropic/models/${model}:${m[3]}`,
  },
  {
    id: "vertex.anthropic.count_tokens_method",
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):countTokens$/,
    format: vertexAnthropic,
    providerTypes: ["vertex"],
    query: [],
    billable: false,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    upstreamPath: (m, model) => `/${m[1]}/publishers/anthropic/models/${model}:countTokens`,
  },
  {
    // @google/genai in Vertex mode; without a project (express mode) it leaves out projects/…/locations/….
    id: "vertex.gemini.generate",
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/(?:projects\/[^/]+\/locations\/[^/]+\/)?publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/,
    format: gemini,
    providerTypes: ["vertex"],
    query: ["alt"],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    streamFromPath: (m) => m[3] === "streamGenerateContent",
    upstreamPath: (m, model) => `/${m[1]}/publishers/google/models/${model}:${m[3]}`,
  },
  {
    id: "vertex.gemini.count_tokens",
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/(?:projects\/[^/]+\/locations\/[^/]+\/)?publishers\/google\/models\/([^/:]+):countTokens$/,
    format: gemini,
    providerTypes: ["vertex"],
    query: [],
    billable: false,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    upstreamPath: (m, model) => `/${m[1]}/publishers/google/models/${model}:countTokens`,
  },
  // Amazon Bedrock runtime, under /bedrock (ANTHROPIC_BEDROCK_BASE_URL=<gateway>/bedrock) and at the root. The AWS SDK
  // sends ":" as %3A, Anthropic's SDK and Claude Code send it raw; upstream always gets one encoding, the one signed.
  {
    id: "bedrock.invoke",
    method: "POST",
    pattern: /^(?:\/bedrock)?\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/,
    format: bedrockInvoke,
    providerTypes: ["bedrock"],
    query: [],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[1] ?? "", BEDROCK_MODEL),
    streamFromPath: (m) => m[2] === "invoke-with-response-stream",
    upstreamPath: (m, model) => `/model/${encodeURIComponent(model)}/${m[2]}`,
  },
  {
    id: "bedrock.converse",
    method: "POST",
    pattern: /^(?:\/bedrock)?\/model\/([^/]+)\/(converse|converse-stream)$/,
    format: bedrockConverse,
    providerTypes: ["bedrock"],
    query: [],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[1] ?? "", BEDROCK_MODEL),
    streamFromPath: (m) => m[2] === "converse-stream",
    upstreamPath: (m, model) => `/model/${encodeURIComponent(model)}/${m[2]}`,
  },
];

export function matchRoute(routes: readonly RouteDef[], method: string, pathname: string): RouteMatch | null {
  for (const route of routes) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(pathname);
    if (match) return { route, match };
  }
  return null;
}

