// Which upstream targets serve a request: the alias resolved, then the model's route (ordered targets across
// providers, each with its own model id), or, without a route, the first provider whose `models` globs match.
// A target of another provider type is kept only when the client's dialect translates to it (translate.ts).
import type { Config } from "../config/schema.js";
import { globMatch } from "../config/glob.js";
import { adapterFor } from "../providers/registry.js";
import type { ResolvedProvider } from "./exchange.js";
import type { RouteDef } from "./routes.js";
import { type Translation, translationFor } from "./translate.js";

export interface Target {
  readonly provider: ResolvedProvider;
  /** The model id this target is called with. */
  readonly model: string;
  /** How the client's request becomes this target's; null when the client's route speaks the target's API. */
  readonly translation: Translation | null;
}

/** A target the plan dropped before any attempt, and why (recorded with the request's attempts). */
export interface SkippedTarget {
  readonly provider: string;
  readonly model: string;
  readonly reason: string;
}

export interface RoutePlan {
  /** The model the client named. */
  readonly requested: string;
  /** The model after its alias; what the route is keyed by. */
  readonly model: string;
  readonly targets: readonly Target[];
  readonly skipped: readonly SkippedTarget[];
}

export function resolveAlias(config: Pick<Config, "aliases">, requested: string): string {
  return config.aliases[requested] ?? requested;
}

function resolved(config: Config, name: string): ResolvedProvider {
  const provider = config.providers[name]!;
  return { name, config: provider, adapter: adapterFor(provider) };
}

/** The targets for a request, or null when nothing on this gateway serves the model through the client's API. */
export function planRoute(config: Config, route: RouteDef, requested: string): RoutePlan | null {
  const model = resolveAlias(config, requested);
  const routed = config.routes[model];
  if (!routed) {
    for (const [name, provider] of Object.entries(config.providers)) {
      if (!route.providerTypes.includes(provider.type)) continue;
      if (provider.models.some((glob) => globMatch(glob, model))) return { requested, model, targets: [{ provider: resolved(config, name), model, translation: null }], skipped: [] };
    }
    return null;
  }
  const targets: Target[] = [];
  const skipped: SkippedTarget[] = [];
  for (const t of routed) {
    const provider = resolved(config, t.provider);
    const targetModel = t.model ?? model;
    if (route.providerTypes.includes(provider.config.type)) {
      targets.push({ provider, model: targetModel, translation: null });
      continue;
    }
    const translation = translationFor(route, provider.config.type);
    if (translation) targets.push({ provider, model: targetModel, translation });
    else skipped.push({ provider: t.provider, model: targetModel, reason: `the ${route.id} API does not translate to ${provider.config.type}` });
  }
  return targets.length > 0 ? { requested, model, targets, skipped } : null;
}
