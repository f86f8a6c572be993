// Which action a finding gets for a caller: a grant that names the rule id, its category or "default" decides
// (several grants: the strictest); otherwise the catalog's action, where "block" counts only with `enforce`.
import type { GuardrailsConfig, SecretsConfig } from "../config/guardrails.js";
import type { GuardrailAction } from "../config/grants.js";
import type { Entitlement } from "../access/caller.js";
import { type CompiledRules, type RuleMeta, defaultCatalog, loadRules } from "./rules/index.js";
import { FLOW_RULES } from "./flow.js";
import type { Action } from "./rules/types.js";

const RANK: Record<GuardrailAction, number> = { log: 0, flag: 1, redact: 2, block: 3 };

/** The finding for a script whose analysis reached a bound: what it runs is unknown. */
export const ANALYSIS_LIMIT = "obf.analysis-limit";

export function strongest<A extends GuardrailAction>(actions: Iterable<A>): A | null {
  let best: A | null = null;
  for (const a of actions) if (best === null || RANK[a] > RANK[best]) best = a;
  return best;
}

/** A tool call cannot be redacted (the agent would run the marker): a grant's "redact" flags it. */
const forCall = (a: GuardrailAction): Action => (a === "redact" ? "flag" : a);

/** The category grants name to set every secret rule at once. */
export const SECRETS_CATEGORY = "secrets";

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
    /** The config makes some secret rule block (a credential in a tool call's arguments blocks the call). */
    private readonly secretsBlock = false,
  ) {}

  static for(config: GuardrailsConfig, entitlement: Entitlement): GuardrailPolicy {
    const { rules, metas } = compiledRules(config);
    const secretsBlock = config.secrets.enabled && (config.secrets.action === "block" || Object.values(config.secrets.rules).includes("block"));
    return new GuardrailPolicy(rules, metas, config.enforce, entitlement.guardrails, secretsBlock);
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
    if (named) return forCall(named);
    this.blocksOthers ??= this.metas.some((m) => m.id !== ANALYSIS_LIMIT && this.configured({ ruleId: m.id, category: m.category, action: m.action }) === "block");
    return this.blocksOthers ? "block" : (strongest([this.configured(f), "flag"]) ?? "flag");
  }

  private configured(f: FindingKey): Action {
    const fromGrants = strongest(this.grants.flatMap((g) => {
      const a = g[f.ruleId] ?? g[f.category] ?? g.default;
      return a ? [a] : [];
    }));
    if (fromGrants) return forCall(fromGrants);
    return f.action === "block" && !this.enforce ? "flag" : f.action;
  }

  /**
   * A secret rule's action: grants naming the rule id, else the "secrets" category (the strictest grant wins), else
   * the config's per-rule action or its default. A grant's "default" does not apply: lowering it for shell rules
   * must not forward secrets.
   */
  secretActionFor(ruleId: string, config: SecretsConfig): GuardrailAction {
    const fromGrants = strongest(this.grants.flatMap((g) => {
      const a = g[ruleId] ?? g[SECRETS_CATEGORY];
      return a ? [a] : [];
    }));
    return fromGrants ?? config.rules[ruleId] ?? config.action;
  }

  /** Whether any rule can end in "block" for this caller (if not, responses are never rewritten). */
  canBlock(): boolean {
    const rules = [...this.metas.map((m) => ({ ruleId: m.id, category: m.category, action: m.action })), ...Object.values(FLOW_RULES).map((r) => ({ ruleId: r.id, category: r.category, action: r.action }))];
    // Secret rules can block a tool call too (a credential in its arguments).
    return this.secretsBlock || rules.some((r) => this.actionFor(r) === "block") || this.grants.some((g) => Object.entries(g).some(([k, a]) => a === "block" && (k === SECRETS_CATEGORY || k.startsWith("secret."))));
  }
}
