// Several keys per provider: traffic is shared by weight (smooth weighted round robin, as nginx does it, so shares
// hold exactly over every window of `total weight` requests), and a key the provider answered 429 or 401 rests until
// its retry-after passes while the others carry the load. Counters per key feed /api/routing/keys and /metrics;
// labels are config names only (provider and key names), never a key.
import { Counter, Gauge, type Registry } from "prom-client";
import type { ProviderConfig } from "../config/providers.js";

export interface PoolKey {
  readonly name: string;
  /** The key to send; null for providers that authenticate otherwise (SigV4, OAuth): one implicit key. */
  readonly apikey: string | null;
  readonly weight: number;
}

/** The name of a provider's only key when it has a single `apikey` (or cloud credentials). */
export const DEFAULT_KEY = "default";

export function keysOf(config: ProviderConfig): PoolKey[] {
  if (!("apikey" in config)) return [{ name: DEFAULT_KEY, apikey: null, weight: 1 }];
  const several = config.keys.filter((k) => k.apikey !== "");
  if (several.length > 0) return several.map((k) => ({ name: k.name, apikey: k.apikey, weight: k.weight }));
  if (config.apikey !== "") return [{ name: DEFAULT_KEY, apikey: config.apikey, weight: 1 }];
  // passthrough and none need no key of the gateway's: one slot, sent with the caller's credential or with none.
  return config.auth_mode === "inject" ? [] : [{ name: DEFAULT_KEY, apikey: null, weight: 1 }];
}

/** The provider's config as its adapter sees it for one key. */
export function withKey(config: ProviderConfig, key: PoolKey): ProviderConfig {
  return key.apikey === null || !("apikey" in config) ? config : { ...config, apikey: key.apikey };
}

interface KeyState {
  /** Smooth weighted round robin's running score. */
  current: number;
  restUntil: number;
  restReason: string | null;
  requests: number;
  readonly statuses: Map<string, number>;
  inputTokens: number;
  outputTokens: number;
  costNanos: number;
}

export interface KeyView {
  readonly provider: string;
  readonly key: string;
  readonly weight: number;
  readonly requests: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_nanos: number;
  /** Epoch ms until which the key gets no traffic, or null. */
  readonly resting_until: number | null;
  readonly rest_reason: string | null;
}

const statusLabel = (status: number | null) => (status === null ? "error" : status >= 100 && status <= 599 ? String(status) : "other");

export class KeyPool {
  private readonly states = new Map<string, KeyState>();
  private readonly requests?: Counter<"provider" | "key" | "status">;
  private readonly tokens?: Counter<"provider" | "key" | "kind">;

  constructor(
    registry: Registry | null,
    private readonly now: () => number = Date.now,
  ) {
    if (!registry) return;
    this.requests = new Counter({ name: "keyless_provider_key_requests_total", help: "Upstream attempts per provider key, by status", labelNames: ["provider", "key", "status"], registers: [registry] });
    this.tokens = new Counter({ name: "keyless_provider_key_tokens_total", help: "Tokens answered per provider key (input, output)", labelNames: ["provider", "key", "kind"], registers: [registry] });
    const states = this.states;
    const clock = this.now;
    new Gauge({
      name: "keyless_provider_key_resting_seconds",
      help: "Seconds until a resting provider key takes traffic again (0: available)",
      labelNames: ["provider", "key"],
      registers: [registry],
      collect() {
        this.reset();
        const at = clock();
        for (const [id, s] of states) {
          const [provider, key] = id.split("\u0000") as [string, string];
          this.set({ provider, key }, Math.max(0, (s.restUntil - at) / 1000));
        }
      },
    });
  }

  private state(provider: string, key: string): KeyState {
    const id = `${provider}\u0000${key}`;
    let s = this.states.get(id);
    if (!s) {
      s = { current: 0, restUntil: 0, restReason: null, requests: 0, statuses: new Map(), inputTokens: 0, outputTokens: 0, costNanos: 0 };
      this.states.set(id, s);
    }
    return s;
  }

  /**
   * The keys that may take a request now, the weighted round robin's pick first, then the others by weight (to try
   * when the first is refused); and, when every key rests, when the first wakes.
   */
  order(provider: string, keys: readonly PoolKey[]): { ready: PoolKey[]; wakesAt: number | null } {
    const at = this.now();
    const ready = keys.filter((k) => this.state(provider, k.name).restUntil <= at);
    if (ready.length === 0) {
      const wakes = keys.map((k) => this.state(provider, k.name).restUntil);
      return { ready, wakesAt: wakes.length > 0 ? Math.min(...wakes) : null };
    }
    const total = ready.reduce((sum, k) => sum + k.weight, 0);
    let best = ready[0]!;
    for (const k of ready) {
      const s = this.state(provider, k.name);
      s.current += k.weight;
      if (s.current > this.state(provider, best.name).current) best = k;
    }
    this.state(provider, best.name).current -= total;
    return { ready: [best, ...ready.filter((k) => k !== best).sort((a, b) => b.weight - a.weight)], wakesAt: null };
  }

  /** Whether any of the keys may take a request now (without moving the round robin). */
  anyReady(provider: string, keys: readonly PoolKey[]): boolean {
    const at = this.now();
    return keys.some((k) => this.state(provider, k.name).restUntil <= at);
  }

  /** The key gets no traffic for `ms`. A longer rest already running is kept. */
  rest(provider: string, key: string, ms: number, reason: string): void {
    const s = this.state(provider, key);
    const until = this.now() + ms;
    if (until > s.restUntil) {
      s.restUntil = until;
      s.restReason = reason;
    }
  }

  /** One upstream attempt on the key: its status, or null when no answer came. */
  attempted(provider: string, key: string, status: number | null): void {
    const s = this.state(provider, key);
    s.requests++;
    const label = statusLabel(status);
    s.statuses.set(label, (s.statuses.get(label) ?? 0) + 1);
    this.requests?.inc({ provider, key, status: label });
  }

  /** What the key's answer used, once the response is complete. */
  used(provider: string, key: string, input: number, output: number, costNanos: number | null): void {
    const s = this.state(provider, key);
    s.inputTokens += input;
    s.outputTokens += output;
    s.costNanos += costNanos ?? 0;
    if (input > 0) this.tokens?.inc({ provider, key, kind: "input" }, input);
    if (output > 0) this.tokens?.inc({ provider, key, kind: "output" }, output);
  }

  /** Every configured key with its counters (keys never used show zeros). */
  view(providers: Readonly<Record<string, ProviderConfig>>): KeyView[] {
    const at = this.now();
    return Object.entries(providers).flatMap(([provider, config]) =>
      keysOf(config).map((k): KeyView => {
        const s = this.state(provider, k.name);
        const resting = s.restUntil > at;
        return {
          provider,
          key: k.name,
          weight: k.weight,
          requests: s.requests,
          statuses: Object.fromEntries(s.statuses),
          input_tokens: s.inputTokens,
          output_tokens: s.outputTokens,
          cost_nanos: s.costNanos,
          resting_until: resting ? s.restUntil : null,
          rest_reason: resting ? s.restReason : null,
        };
      }),
    );
  }
}
