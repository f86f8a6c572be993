// The reservation for a request: an upper bound of what it can cost, priced by the same pricer that later prices its
// actual usage. Input tokens are bounded by the body size, or by the model's context window when part of the input
// is fetched by the provider (content by reference); output tokens by the request's own cap times the number of
// choices; each server-tool call adds its results to the context, one more model call over it, and its fee; a premium
// tier multiplies it all. Every input token is priced at the dearest input rate (cache writes).
import type { QuotaEstimateConfig } from "../config/quotas.js";
import { isRecord } from "../formats/codec.js";
import type { Usage } from "../formats/types.js";
import type { Pricer, PriceQuery } from "../pricing/prices.js";
import type { Exchange } from "../proxy/exchange.js";

export interface Estimate {
  readonly nanos: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** False when the request set no output cap and `uncapped_output_tokens` was assumed. */
  readonly capped: boolean;
  /** False when the request declares server tools without capping their calls and `server_tool_calls` was assumed. */
  readonly toolCallsCapped: boolean;
  /** False when the model has no known price and `unknown_price` was used. */
  readonly priced: boolean;
  /** Input bounded by the model's context window: part of it is fetched by the provider. */
  readonly byReference: boolean;
  /** Server-tool calls reserved for. */
  readonly toolCalls: number;
  /** Server-tool fees inside `nanos` (the pricer never sees tool calls). */
  readonly feeNanos: number;
  /** The fee of one server-tool call: charged per call the response shows, or as reserved when it shows none. */
  readonly toolCallFee: number;
  /** Premium service-tier factor inside `nanos`; the actual cost is multiplied by it too. */
  readonly tierMultiplier: number;
}

type EstimatedRequest = Pick<Exchange, "body" | "format" | "provider" | "model">;

/** Keys, as JSON.stringify writes them, whose presence may mean content by reference (checked exactly below). */
const MAYBE_REFERENCE = /[{,]"(?:source|file_id|image_url|file_url|fileData|file_data|s3Location)":/;
/** Top-level fields that pull stored context into the request: OpenAI conversations, Gemini caches. */
const STORED_CONTEXT = ["previous_response_id", "conversation", "cachedContent", "cached_content"];

/** A part naming content the provider fetches itself (its size is not in the body), in any provider's shape. */
function isReference(node: Record<string, unknown>): boolean {
  const source = node.source;
  if (isRecord(source) && (source.type === "url" || source.type === "file")) return true; // Anthropic image/document
  if (typeof node.file_id === "string" || typeof node.file_url === "string") return true; // Anthropic, OpenAI files
  const image = node.image_url; // OpenAI: a string (Responses) or {url} (Chat); data: URLs are inline
  const imageUrl = isRecord(image) ? image.url : image;
  if (typeof imageUrl === "string" && !imageUrl.startsWith("data:")) return true;
  return isRecord(node.fileData) || isRecord(node.file_data) || isRecord(node.s3Location); // Gemini, Bedrock
}

/** Whether any of the request's input is fetched by the provider rather than sent in the body. */
export function referencesContent(body: unknown, text: string): boolean {
  if (!isRecord(body)) return false;
  if (STORED_CONTEXT.some((key) => body[key] !== undefined && body[key] !== null)) return true;
  // An OpenAI stored prompt is {id, variables}; a string prompt (Bedrock Llama bodies) is the text itself.
  if (isRecord(body.prompt)) return true;
  if (!MAYBE_REFERENCE.test(text)) return false;
  // Iterative: a body nested deeper than the call stack must not throw here.
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isRecord(node) && isReference(node)) return true;
    for (const value of Array.isArray(node) ? node : Object.values(node as object)) {
      if (typeof value === "object" && value !== null) stack.push(value);
    }
  }
  return false;
}

const usage = (input: number, cacheWrite: number, output: number): Usage => ({ input, cacheRead: 0, cacheWrite, output, reasoning: 0 });

/**
 * Input tokens of a server-tool loop: the first model call reads `first` tokens; after each of `calls` tool calls the
 * model runs again over the context grown by `perCall` tokens of results, never more than `window` (closed form:
 * `calls` comes from the request).
 */
export function toolLoopInput(first: number, calls: number, perCall: number, window: number): number {
  if (first >= window || perCall <= 0) return first * (calls + 1);
  const growing = Math.min(calls, Math.floor((window - first) / perCall));
  return (growing + 1) * first + (perCall * growing * (growing + 1)) / 2 + (calls - growing) * window;
}

export function estimateCost(req: EstimatedRequest, pricer: Pricer, settings: QuotaEstimateConfig): Estimate {
  const text = req.body === null || req.body === undefined ? "" : JSON.stringify(req.body);
  const bodyTokens = Math.ceil(Buffer.byteLength(text, "utf8") / settings.bytes_per_token);
  // Read from the body as it will be sent (pre_request hooks may have changed it).
  const drivers = req.format.costDrivers(req.body);
  const query: PriceQuery = { provider: req.provider.name, priceProvider: req.provider.adapter.priceProvider, model: req.model };

  const facts = pricer.facts(query);
  const window = facts.contextWindow ?? settings.context_tokens;
  const toolCalls = drivers.serverTools > 0 ? (drivers.maxServerToolCalls ?? settings.server_tool_calls) : 0;
  const byReference = referencesContent(req.body, text);
  // A model call never reads more than its context window, whatever the provider fetched into it.
  const firstInput = byReference ? Math.max(bodyTokens, window) : bodyTokens;
  const inputTokens = toolLoopInput(firstInput, toolCalls, settings.server_tool_result_tokens, window);
  const cap = drivers.maxOutputTokens;
  const capped = cap !== undefined;
  const toolCallsCapped = drivers.serverTools === 0 || drivers.maxServerToolCalls !== undefined;
  // The output cap bounds the whole response, server-tool turns included.
  const outputTokens = (cap ?? settings.uncapped_output_tokens) * drivers.choices;
  const toolCallFee = facts.searchFee ?? settings.server_tool_fee;
  const feeNanos = toolCalls * toolCallFee;
  const tierMultiplier = drivers.premiumTier ? settings.premium_tier_multiplier : 1;

  // The calls' usage summed, as the provider reports it and the pricer prices it (long-context tiers included).
  let tokenNanos: number;
  const priced = pricer.known(query);
  if (priced) {
    // Cache writes are the dearest input for Anthropic; for other providers both come out the same.
    const plain = pricer.cost(query, usage(inputTokens, 0, outputTokens)) ?? 0;
    const written = pricer.cost(query, usage(0, inputTokens, outputTokens)) ?? 0;
    tokenNanos = Math.max(plain, written);
  } else {
    const { input, output } = settings.unknown_price;
    // $/Mtok = nanodollars per thousand tokens.
    tokenNanos = Math.ceil((inputTokens * input + outputTokens * output) * 1000);
  }
  // Absurd caps (max_tokens: 1e300) must still compare, store and refuse as a number.
  const nanos = Math.min(Math.ceil(tokenNanos * tierMultiplier) + feeNanos, Number.MAX_SAFE_INTEGER);
  return { nanos, inputTokens, outputTokens, capped, toolCallsCapped, priced, byReference, toolCalls, feeNanos, toolCallFee, tierMultiplier };
}

export type Charging = Pick<Estimate, "nanos" | "feeNanos" | "toolCallFee" | "tierMultiplier">;

/**
 * What a priced usage costs the budget: the pricer's cost times the tier's factor, plus the server-tool fees: per call
 * the response shows (Anthropic, OpenAI Responses, Gemini grounding), else as reserved (Chat search models).
 */
export function budgetCost(estimate: Charging, costNanos: number, serverToolCalls: number | undefined): number {
  const fees = serverToolCalls === undefined ? estimate.feeNanos : serverToolCalls * estimate.toolCallFee;
  return Math.ceil(costNanos * estimate.tierMultiplier) + fees;
}
