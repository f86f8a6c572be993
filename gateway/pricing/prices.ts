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

type TokenPriceKey = "input_mtok" | "cache_read_mtok" | "cache_write_mtok" | "output_mtok";
type TokenPrice = number | { readonly base: number; readonly tiers: readonly { readonly start: number; readonly price: number }[] };
/** A model's token prices ($/Mtok, flat or tiered by total input), in the order the table lists them. */
type DirectPrice = readonly (readonly [TokenPriceKey, TokenPrice])[];

const TOKEN_KEYS: ReadonlySet<string> = new Set(["input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok"]);
/** Prices of usage keyless never reports (their count is 0, so they add nothing). A per-request fee is not one. */
const UNREPORTED_KEYS: ReadonlySet<string> = new Set(["cache_write_1h_mtok", "web_searches_kcount", "storage_searches_kcount", "input_audio_mtok", "cache_audio_read_mtok", "output_audio_mtok"]);

const isTokenPrice = (v: unknown): v is TokenPrice =>
  typeof v === "number" || (typeof v === "object" && v !== null && typeof (v as { base?: unknown }).base === "number" && Array.isArray((v as { tiers?: unknown }).tiers));

/** The prices `calcPrice` would use at any time from `now` on, as sums keyless can do itself; null where it cannot. */
function directPrice(prices: unknown, resolved: object, now: number): DirectPrice | null {
  // Dated prices are fixed once every start date has passed; time-of-day prices never are.
  if (Array.isArray(prices)) {
    for (const { constraint } of prices as { constraint?: { type: string; start_date?: string } }[]) {
      if (constraint && (constraint.type !== "start_date" || !(Date.parse(constraint.start_date ?? "") <= now))) return null;
    }
  }
  const entries: [TokenPriceKey, TokenPrice][] = [];
  for (const [key, value] of Object.entries(resolved)) {
    if (value === undefined || UNREPORTED_KEYS.has(key)) continue;
    if (!TOKEN_KEYS.has(key) || !isTokenPrice(value)) return null;
    entries.push([key as TokenPriceKey, value]);
  }
  return entries.some(([k]) => k === "input_mtok") && entries.some(([k]) => k === "output_mtok") ? entries : null;
}

/** genai-prices' arithmetic, step for step (its float order, so results match to the nanodollar). */
function directCost(price: DirectPrice, usage: Usage): number {
  const has = (key: TokenPriceKey) => price.some(([k]) => k === key);
  const totalInput = usage.input + usage.cacheRead + usage.cacheWrite;
  // Cache reads and writes without a price of their own are priced as input.
  const count: Record<TokenPriceKey, number> = {
    input_mtok: totalInput - (has("cache_read_mtok") ? usage.cacheRead : 0) - (has("cache_write_mtok") ? usage.cacheWrite : 0),
    cache_read_mtok: usage.cacheRead,
    cache_write_mtok: usage.cacheWrite,
    output_mtok: usage.output,
  };
  let inputDollars = 0;
  let outputDollars = 0;
  for (const [key, p] of price) {
    const n = count[key];
    let dollars: number;
    if (typeof p === "number") dollars = (p * n) / MTOK;
    else {
      let perMtok = p.base;
      for (const tier of p.tiers) if (totalInput > tier.start) perMtok = tier.price;
      dollars = n <= 0 ? 0 : (((perMtok * n) / MTOK) * MTOK) / MTOK;
    }
    if (key === "output_mtok") outputDollars += dollars;
    else inputDollars += dollars;
  }
  return Math.round((inputDollars + outputDollars) * NANOS_PER_DOLLAR);
}

export function createPricer(overrides: Readonly<Record<string, PriceOverride>>): Pricer {
  const entries = Object.entries(overrides);
  const findOverride = (q: PriceQuery) => entries.find(([glob]) => globMatch(glob, `${q.provider}/${q.model}`))?.[1];
  const memo = new Map<string, boolean>();
  const facts = new Map<string, ModelFacts>();

  // calcPrice resolves the model and then prices through a general unit graph: ≈ 45 µs a call, three calls a request
  // (the budget's estimate twice, the charge once). Where the table gives a model flat per-token prices for exactly
  // the four kinds of tokens keyless reports (no tiers, no dated or time-of-day prices), the same sums are done here,
  // in the library's order; anything else goes through calcPrice. test/pricing/prices.test.ts compares the two.
  const direct = new Map<string, DirectPrice | null>();
  const directFor = (q: PriceQuery): DirectPrice | null => {
    const key = `${q.priceProvider}\u0000${q.model}`;
    let found = direct.get(key);
    if (found === undefined) {
      const match = calcPrice({ input_tokens: 1, output_tokens: 1 }, q.model, { providerId: q.priceProvider });
      found = match ? directPrice(match.model.prices, match.model_price, Date.now()) : null;
      if (direct.size > 10_000) direct.clear();
      direct.set(key, found);
    }
    return found;
  };

  const tableCost = (q: PriceQuery, usage: Usage): number | null => {
    const price = directFor(q);
    if (price) return directCost(price, usage);
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
