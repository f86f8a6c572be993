// Cost in integer nanodollars from @pydantic/genai-prices (a maintained price table, bundled: no network),
// overridable per model in the config. An unknown price is null, never 0.
import { calcPrice } from "@pydantic/genai-prices";
import type { PriceOverride } from "../config/schema.js";
import { NANOS_PER_DOLLAR } from "../config/units.js";
import { globMatch } from "../config/glob.js";
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
  /** What the price table says about the model beyond token prices (nulls when it does not say). */
  facts(query: PriceQuery): ModelFacts;
}

export interface ModelFacts {
  /** Context window in tokens. */
  readonly contextWindow: number | null;
  /** Nanodollars per server-side web search call. */
  readonly searchFee: number | null;
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
  const facts = new Map<string, ModelFacts>();

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
    facts(q) {
      const key = `${q.priceProvider}\u0000${q.model}`;
      let found = facts.get(key);
      if (found === undefined) {
        const match = calcPrice({ input_tokens: 1, output_tokens: 1 }, q.model, { providerId: q.priceProvider });
        const perThousand = match?.model_price.web_searches_kcount;
        found = {
          contextWindow: match?.model.context_window ?? null,
          searchFee: typeof perThousand === "number" ? Math.round((perThousand * NANOS_PER_DOLLAR) / 1000) : null,
        };
        if (facts.size > 10_000) facts.clear();
        facts.set(key, found);
      }
      return found;
    },
  };
}
