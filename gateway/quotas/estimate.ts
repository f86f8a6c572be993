// The reservation for a request: an upper bound of what it can cost, priced by the same pricer that later prices its
// actual usage. Input tokens are bounded by the body size, or by the model's context window when part of the input
// is not in the body (content by reference, server-tool results); output tokens by the request's own cap times the
// number of choices; each server-tool call may cost one more model call and its fee; a premium tier multiplies it all.
// Every input token is priced at the dearest input rate (cache writes).
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
  /** Model calls reserved for: one, plus one per server-tool call allowed. */
  readonly modelCalls: number;
  /** Server-tool fees inside `nanos`; the pricer never sees tool calls, so they are charged as reserved. */
  readonly feeNanos: number;
  /** Premium service-tier factor inside `nanos`; the actual cost is multiplied by it too. */
  readonly tierMultiplier: number;
}

type EstimatedRequest = Pick<Exchange, "body" | "format" | "provider" | "model">;

/** Keys, as JSON.stringify writes them, whose presence may mean content by reference (checked exactly below). */
const MAYBE_REFERENCE = /[{,]"(?:source|file_id|image_url|file_url|fileData|file_data|s3Location)":/;
/** Top-level fields that pull stored context into the request: OpenAI conversations and prompts, Gemini caches. */
const STORED_CONTEXT = ["previous_response_id", "conversation", "prompt", "cachedContent", "cached_content"];

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
  if (!MAYBE_REFERENCE.test(text)) return false;
  // Iterative: a body nested deeper than the call stack must not throw here.
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (isRecord(node)) {
      if (isReference(node)) return true;
      for (const value of Object.values(node)) if (typeof value === "object" && value !== null) stack.push(value);
    }
  }
  return false;
}

const usage = (input: number, cacheWrite: number, output: number): Usage => ({ input, cacheRead: 0, cacheWrite, output, reasoning: 0 });

export function estimateCost(req: EstimatedRequest, pricer: Pricer, settings: QuotaEstimateConfig): Estimate {
  const text = req.body === null || req.body === undefined ? "" : JSON.stringify(req.body);
  const bodyTokens = Math.ceil(Buffer.byteLength(text, "utf8") / settings.bytes_per_token);
  // Read from the body as it will be sent (pre_request hooks may have changed it).
  const drivers = req.format.costDrivers(req.body);
  const query: PriceQuery = { provider: req.provider.name, priceProvider: req.provider.adapter.priceProvider, model: req.model };

  const toolCalls = drivers.serverTools > 0 ? (drivers.maxServerToolCalls ?? settings.server_tool_calls) : 0;
  const byReference = toolCalls > 0 || referencesContent(req.body, text);
  // A model call never reads more than its context window, whatever the provider fetched into it.
  const callInput = byReference ? Math.max(bodyTokens, pricer.contextWindow(query) ?? settings.context_tokens) : bodyTokens;
  const cap = drivers.maxOutputTokens;
  const capped = cap !== undefined;
  const toolCallsCapped = drivers.serverTools === 0 || drivers.maxServerToolCalls !== undefined;
  const modelCalls = 1 + toolCalls;
  const inputTokens = callInput * modelCalls;
  const outputTokens = (cap ?? settings.uncapped_output_tokens) * drivers.choices * modelCalls;
  const feeNanos = toolCalls * settings.server_tool_fee;
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
  const nanos = Math.ceil(tokenNanos * tierMultiplier) + feeNanos;
  return { nanos, inputTokens, outputTokens, capped, toolCallsCapped, priced, byReference, modelCalls, feeNanos, tierMultiplier };
}

/** What a priced usage costs the budget: the pricer's cost times the tier's factor, plus the reserved tool fees. */
export function budgetCost(estimate: Pick<Estimate, "feeNanos" | "tierMultiplier">, costNanos: number): number {
  return Math.ceil(costNanos * estimate.tierMultiplier) + estimate.feeNanos;
}
