// Cost in integer nanodollars from @pydantic/genai-prices (a maintained price table, bundled: no network),
// overridable per model in the config. An unknown price is null, never 0.
import { calcPrice } from "@pydantic/genai-prices";
import type { PriceOverride } from "../config/schema.js";
import { NANOS_PER_DOLLAR } from "../config/units.js";
import { globMatch } from "../policy/glob.js";
import type { Usage } from "../formats/types.js";

export interface PriceQuery {
  /** Config name of the provider (overrides are keyed "<name>/<model>"). */
  readonly provider: string;
  /** The price table's provider id: anthropic, openai, google, aws. */
  readonly priceProvider: string;
  readonly model: string;
}

export interface Pricer {
  /** Cost of `usage` in nanodollars, or null when the model has no known price. */
  cost(query: PriceQuery, usage: Usage): number | null;
  /** Whether any price is known for the model. */
  known(query: PriceQuery): boolean;
  /** The model's context window in tokens, from the price table; null when it does not say. */
  contextWindow(query: PriceQuery): number | null;
}

const MTOK = 1_000_000;

function overrideCost(price: PriceOverride, usage: Usage): number {
  const dollars =
    (usage.input * price.input +
      usage.cacheRead * (price.cache_read ?? price.input) +
      usage.cacheWrite * (price.cache_write ?? price.input) +
      usage.output * price.output) /
    MTOK;
  return Math.round(dollars * NANOS_PER_DOLLAR);
}

export function createPricer(overrides: Readonly<Record<string, PriceOverride>>): Pricer {
  const entries = Object.entries(overrides);
  const findOverride = (q: PriceQuery) => entries.find(([glob]) => globMatch(glob, `${q.provider}/${q.model}`))?.[1];
  const memo = new Map<string, boolean>();
  const windows = new Map<string, number | null>();

  const tableCost = (q: PriceQuery, usage: Usage): number | null => {
    // genai-prices counts input_tokens as the total input, cache reads and writes included.
    const result = calcPrice(
      {
        input_tokens: usage.input + usage.cacheRead + usage.cacheWrite,
        cache_read_tokens: usage.cacheRead,
        cache_write_tokens: usage.cacheWrite,
        output_tokens: usage.output,
      },
      q.model,
      { providerId: q.priceProvider },
    );
    return result ? Math.round(result.total_price * NANOS_PER_DOLLAR) : null;
  };

  return {
    cost(q, usage) {
      const override = findOverride(q);
      return override ? overrideCost(override, usage) : tableCost(q, usage);
    },
    known(q) {
      const key = `${q.provider}\u0000${q.priceProvider}\u0000${q.model}`;
      let known = memo.get(key);
      if (known === undefined) {
        known = findOverride(q) !== undefined || tableCost(q, { input: 1, cacheRead: 0, cacheWrite: 0, output: 1, reasoning: 0 }) !== null;
        if (memo.size > 10_000) memo.clear();
        memo.set(key, known);
      }
      return known;
    },
    contextWindow(q) {
      const key = `${q.priceProvider}\u0000${q.model}`;
      let window = windows.get(key);
      if (window === undefined) {
        window = calcPrice({ input_tokens: 1, output_tokens: 1 }, q.model, { providerId: q.priceProvider })?.model.context_window ?? null;
        if (windows.size > 10_000) windows.clear();
        windows.set(key, window);
      }
      return window;
    },
  };
}
