// The reservation for a request: an upper bound of what it can cost, priced by the same pricer that later prices its
// actual usage. Input tokens are bounded by the body size, output tokens by the request's own cap (max_tokens and
// friends, times the number of choices); every input token is priced at the dearest input rate (cache writes).
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
  /** False when the model has no known price and `unknown_price` was used. */
  readonly priced: boolean;
}

type EstimatedRequest = Pick<Exchange, "body" | "info" | "format" | "provider" | "model">;

/** Choices a request asks for: each may produce up to the output cap. */
function choices(req: EstimatedRequest): number {
  const body = req.body;
  if (!isRecord(body)) return 1;
  const n = req.format.id === "gemini" ? (isRecord(body.generationConfig) ? body.generationConfig.candidateCount : undefined) : body.n;
  return typeof n === "number" && Number.isInteger(n) && n > 1 ? n : 1;
}

function bodyBytes(body: unknown): number {
  return body === null || body === undefined ? 0 : Buffer.byteLength(JSON.stringify(body), "utf8");
}

const usage = (input: number, cacheWrite: number, output: number): Usage => ({ input, cacheRead: 0, cacheWrite, output, reasoning: 0 });

export function estimateCost(req: EstimatedRequest, pricer: Pricer, settings: QuotaEstimateConfig): Estimate {
  const inputTokens = Math.ceil(bodyBytes(req.body) / settings.bytes_per_token);
  const cap = req.info.maxOutputTokens;
  const capped = typeof cap === "number" && cap >= 0;
  const outputTokens = (capped ? cap : settings.uncapped_output_tokens) * choices(req);
  const query: PriceQuery = { provider: req.provider.name, priceProvider: req.provider.adapter.priceProvider, model: req.model };
  if (pricer.known(query)) {
    // Cache writes are the dearest input for Anthropic; for other providers both come out the same.
    const plain = pricer.cost(query, usage(inputTokens, 0, outputTokens)) ?? 0;
    const written = pricer.cost(query, usage(0, inputTokens, outputTokens)) ?? 0;
    return { nanos: Math.max(plain, written), inputTokens, outputTokens, capped, priced: true };
  }
  const { input, output } = settings.unknown_price;
  // $/Mtok = nanodollars per thousand tokens.
  const nanos = Math.ceil((inputTokens * input + outputTokens * output) * 1000);
  return { nanos, inputTokens, outputTokens, capped, priced: false };
}
