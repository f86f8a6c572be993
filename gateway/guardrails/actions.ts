// Which action a finding gets for a caller: a grant that names the rule id, its category or "default" decides
// (several grants: the strictest); otherwise the catalog's action, where "block" counts only with `enforce`.
import type { GuardrailsConfig } from "../config/guardrails.js";
import type { Entitlement } from "../access/caller.js";
import { type CompiledRules, type RuleMeta, defaultCatalog, loadRules } from "./rules/index.js";
import type { Action } from "./rules/types.js";

const RANK: Record<Action, number> = { log: 0, flag: 1, block: 2 };

/** The finding for a script whose analysis reached a bound: what it runs is unknown. */
export const ANALYSIS_LIMIT = "obf.analysis-limit";

export function strongest(actions: Iterable<Action>): Action | null {
  let best: Action | null = null;
  for (const a of actions) if (best === null || RANK[a] > RANK[best]) best = a;
  return best;
}

const compiled = new WeakMap<GuardrailsConfig, { rules: CompiledRules; metas: readonly RuleMeta[] }>();

/** The compiled catalog for a (frozen) guardrails config, compiled once per config. */
export function compiledRules(config: GuardrailsConfig): { rules: CompiledRules; metas: readonly RuleMeta[] } {
  let entry = compiled.get(config);
  if (!entry) {
    const rules = loadRules(defaultCatalog(), config.rules);
    entry = { rules, metas: rules.metas };
    compiled.set(config, entry);
  }
  return entry;
}

export interface FindingKey {
  readonly ruleId: string;
  readonly category: string;
  /** The catalog's action (after config overrides). */
  readonly action: Action;
}

export class GuardrailPolicy {
  private blocksOthers?: boolean;

  constructor(
    readonly rules: CompiledRules,
    private readonly metas: readonly RuleMeta[],
    private readonly enforce: boolean,
    /** The caller's per-grant overrides for the model (its entitlement's guardrails). */
    private readonly grants: Entitlement["guardrails"],
  ) {}

  static for(config: GuardrailsConfig, entitlement: Entitlement): GuardrailPolicy {
    const { rules, metas } = compiledRules(config);
    return new GuardrailPolicy(rules, metas, config.enforce, entitlement.guardrails);
  }

  /**
   * An unknown script is never less than a flag, and where this caller's guardrails block any other rule it is
   * blocked: else padding a command past an analysis bound would let any blocked command through. Only a grant
   * naming the rule id itself (or disabling the rule) decides otherwise.
   */
  actionFor(f: FindingKey): Action {
    if (f.ruleId !== ANALYSIS_LIMIT) return this.configured(f);
    const named = strongest(this.grants.flatMap((g) => {
      const a = g[f.ruleId];
      return a ? [a] : [];
    }));
    if (named) return named;
    this.blocksOthers ??= this.metas.some((m) => m.id !== ANALYSIS_LIMIT && this.configured({ ruleId: m.id, category: m.category, action: m.action }) === "block");
    return this.blocksOthers ? "block" : (strongest([this.configured(f), "flag"]) ?? "flag");
  }

  private configured(f: FindingKey): Action {
    const fromGrants = strongest(this.grants.flatMap((g) => {
      const a = g[f.ruleId] ?? g[f.category] ?? g.default;
      return a ? [a] : [];
    }));
    if (fromGrants) return fromGrants;
    return f.action === "block" && !this.enforce ? "flag" : f.action;
  }

  /** Whether any rule can end in "block" for this caller (if not, responses are never rewritten). */
  canBlock(): boolean {
    return this.metas.some((m) => this.actionFor({ ruleId: m.id, category: m.category, action: m.action }) === "block");
  }
}
