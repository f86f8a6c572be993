// The provider routes keyless serves, as clients call them. Each route rebuilds the upstream path from validated
// parts, so path tricks in the client's URL (.., encoded slashes, absolute URLs) can never choose the destination.
import type { ProviderType } from "../config/providers.js";
import type { FormatCodec } from "../formats/codec.js";
import { anthropicMessages } from "../formats/anthropic.js";
import { gemini } from "../formats/gemini.js";
import { openaiChat } from "../formats/openai-chat.js";
import { openaiResponses } from "../formats/openai-responses.js";

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

/** Model ids: no slashes, no dot-segments, no control or URL-special characters. */
export const SAFE_MODEL = /^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._:@+-]*$/;
const GEMINI_MODEL = /^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function decodedSegment(raw: string, allowed: RegExp): string {
  let model: string;
  try {
    model = decodeURIComponent(raw);
  } catch {
    throw new RouteError(`model "${raw}" is not valid percent-encoding`);
  }
  if (!allowed.test(model)) throw new RouteError(`model "${model}" contains characters keyless does not forward`);
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
];

export function matchRoute(routes: readonly RouteDef[], method: string, pathname: string): RouteMatch | null {
  for (const route of routes) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(pathname);
    if (match) return { route, match };
  }
  return null;
}

