// Gemini API (and Gemini on Vertex). promptTokenCount includes cached tokens; candidates exclude thoughts.
// Streams: every chunk is a whole GenerateContentResponse; usage is the last chunk's.
import { type CostDrivers, type FormatCodec, type GatewayError, type StreamAccumulator, isRecord, jsonResponse, maxCount, num, spellings, statusOf, str, truncateText } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import type { ResponseSummary, ToolCall, ToolResult, Usage } from "../../formats/types.js";

const STATUS: Record<GatewayError["kind"], string> = {
  invalid_request: "INVALID_ARGUMENT",
  authentication: "UNAUTHENTICATED",
  permission: "PERMISSION_DENIED",
  blocked: "PERMISSION_DENIED",
  not_found: "NOT_FOUND",
  too_large: "INVALID_ARGUMENT",
  rate_limit: "RESOURCE_EXHAUSTED",
  internal: "INTERNAL",
  upstream: "UNAVAILABLE",
  unavailable: "UNAVAILABLE",
  timeout: "DEADLINE_EXCEEDED",
};

export function googleError(error: GatewayError): Response {
  const status = statusOf(error);
  return jsonResponse(status, { error: { code: status, message: error.message, status: STATUS[error.kind] } }, error.headers);
}

export function geminiUsage(u: unknown): Usage | null {
  if (!isRecord(u)) return null;
  const cached = num(u.cachedContentTokenCount);
  const thoughts = num(u.thoughtsTokenCount);
  return {
    input: Math.max(0, num(u.promptTokenCount) + num(u.toolUsePromptTokenCount) - cached),
    cacheRead: cached,
    cacheWrite: 0,
    output: num(u.candidatesTokenCount) + thoughts,
    reasoning: thoughts,
  };
}

function callsFromChunk(chunk: Record<string, unknown>, startIndex: number, responseId: string): ToolCall[] {
  const candidate = Array.isArray(chunk.candidates) && isRecord(chunk.candidates[0]) ? chunk.candidates[0] : {};
  const content = isRecord(candidate.content) ? candidate.content : {};
  const parts = Array.isArray(content.parts) ? content.parts : [];
  const calls: ToolCall[] = [];
  for (const part of parts) {
    if (!isRecord(part) || !isRecord(part.functionCall)) continue;
    const fc = part.functionCall;
    const index = startIndex + calls.length;
    calls.push({
      id: str(fc.id) ?? `${responseId}#${index}`,
      name: str(fc.name) ?? "",
      shape: "function_call_gemini",
      input: fc.args ?? {},
      index,
    });
  }
  return calls;
}

function finishReason(chunk: Record<string, unknown>): string | undefined {
  const candidate = Array.isArray(chunk.candidates) && isRecord(chunk.candidates[0]) ? chunk.candidates[0] : {};
  return str(candidate.finishReason);
}

class GeminiAccumulator implements StreamAccumulator {
  private model?: string;
  private responseId?: string;
  private usage: Usage | null = null;
  private stopReason?: string;
  private error?: string;
  private readonly calls: ToolCall[] = [];
  /** Grounding seen (billed per grounded prompt, or per search query on Gemini 3), and its distinct queries. */
  private grounded = false;
  private readonly queries = new Set<string>();

  pushObject(chunk: Record<string, unknown>): void {
    if (isRecord(chunk.error)) {
      this.error = str(chunk.error.message) ?? "error";
      return;
    }
    for (const candidate of Array.isArray(chunk.candidates) ? chunk.candidates.filter(isRecord) : []) {
      if (!isRecord(candidate.groundingMetadata)) continue;
      this.grounded = true;
      const queries = candidate.groundingMetadata.webSearchQueries;
      for (const q of Array.isArray(queries) ? queries : []) if (typeof q === "string") this.queries.add(q);
    }
    this.model ??= str(chunk.modelVersion);
    this.responseId ??= str(chunk.responseId);
    if (isRecord(chunk.usageMetadata)) this.usage = geminiUsage(chunk.usageMetadata);
    this.stopReason = finishReason(chunk) ?? this.stopReason;
    this.calls.push(...callsFromChunk(chunk, this.calls.length, this.responseId ?? "gemini"));
  }

  push(event: WireEvent): void {
    const chunk = eventJson(event);
    if (chunk === undefined) return;
    // Without alt=sse the stream is one JSON array of responses.
    for (const c of Array.isArray(chunk) ? chunk : [chunk]) if (isRecord(c)) this.pushObject(c);
  }

  finish(): ResponseSummary {
    return {
      model: this.model,
      responseId: this.responseId,
      usage: this.usage,
      toolCalls: this.calls,
      stopReason: this.stopReason,
      error: this.error,
      serverToolCalls: this.grounded ? Math.max(1, this.queries.size) : 0,
    };
  }
}

/** Merges streamed GenerateContentResponse chunks: parts concatenated (adjacent text joined), the last usage kept. */
function rebuildGemini(events: readonly WireEvent[]): unknown {
  const parts: Record<string, unknown>[] = [];
  let last: Record<string, unknown> = {};
  let finishReason: unknown;
  for (const e of events) {
    const parsed = eventJson(e);
    if (parsed === undefined) continue;
    for (const chunk of (Array.isArray(parsed) ? parsed : [parsed]).filter(isRecord)) {
      last = { ...last, ...chunk };
      const candidate = Array.isArray(chunk.candidates) && isRecord(chunk.candidates[0]) ? chunk.candidates[0] : {};
      finishReason = candidate.finishReason ?? finishReason;
      const content = isRecord(candidate.content) ? candidate.content : {};
      for (const part of Array.isArray(content.parts) ? content.parts.filter(isRecord) : []) {
        const previous = parts.at(-1);
        if (typeof part.text === "string" && previous && typeof previous.text === "string" && previous.thought === part.thought) {
          previous.text += part.text;
        } else {
          parts.push({ ...part });
        }
      }
    }
  }
  return { ...last, candidates: [{ content: { role: "model", parts }, finishReason, index: 0 }] };
}

export function parseGeminiResponse(body: unknown): ResponseSummary {
  const acc = new GeminiAccumulator();
  for (const c of Array.isArray(body) ? body : [body]) if (isRecord(c)) acc.pushObject(c);
  return acc.finish();
}

export function geminiToolResults(body: unknown): ToolResult[] {
  if (!isRecord(body) || !Array.isArray(body.contents)) return [];
  const last = body.contents.findLast((c) => isRecord(c) && c.role !== "model");
  if (!isRecord(last) || !Array.isArray(last.parts)) return [];
  const results: ToolResult[] = [];
  for (const part of last.parts) {
    if (!isRecord(part) || !isRecord(part.functionResponse)) continue;
    const fr = part.functionResponse;
    const response = isRecord(fr.response) ? fr.response : {};
    const text = typeof response.output === "string" ? response.output : JSON.stringify(response);
    results.push({
      callId: str(fr.id) ?? str(fr.name) ?? "",
      ...(str(fr.name) ? { name: str(fr.name) } : {}),
      isError: response.error !== undefined && response.error !== null,
      output: truncateText(text),
    });
  }
  return results;
}

/** Tools Google runs inside the request (grounding, URL context, code execution, file search, maps). */
const GEMINI_SERVER_TOOLS = ["googleSearch", "googleSearchRetrieval", "urlContext", "codeExecution", "fileSearch", "googleMaps", "enterpriseWebSearch", "retrieval"];

/** proto3 JSON: every field in camelCase or snake_case, integers as numbers or strings; the worst spelling counts. */
export function geminiCostDrivers(body: unknown): CostDrivers {
  if (!isRecord(body)) return { choices: 1, serverTools: 0, premiumTier: false };
  const configs = spellings(body, "generationConfig").filter(isRecord);
  const tools = spellings(body, "tools").flatMap((t) => (Array.isArray(t) ? t.filter(isRecord) : []));
  const server = tools.filter((t) => GEMINI_SERVER_TOOLS.some((name) => spellings(t, name).some((v) => v !== undefined && v !== null)));
  return {
    maxOutputTokens: maxCount(...configs.flatMap((c) => spellings(c, "maxOutputTokens"))),
    choices: Math.max(1, Math.ceil(maxCount(...configs.flatMap((c) => spellings(c, "candidateCount"))) ?? 1)),
    serverTools: server.length,
    premiumTier: false,
  };
}

export const gemini: FormatCodec = {
  id: "gemini",
  framing: "sse",
  requestInfo(body) {
    // The model and streaming come from the path (":streamGenerateContent"); the route fills them in.
    return { stream: false };
  },
  costDrivers: geminiCostDrivers,
  toolResults: geminiToolResults,
  parseResponse: parseGeminiResponse,
  accumulator: () => new GeminiAccumulator(),
  rebuild: rebuildGemini,
  errorResponse: googleError,
  streamError: (message) => ({ data: JSON.stringify({ error: { code: 502, message, status: "UNAVAILABLE" } }) }),
};
