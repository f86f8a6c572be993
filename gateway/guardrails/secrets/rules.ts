// The secret rules: gitleaks' own catalogue (vendored as data: gitleaks.toml, loaded as the JSON its TOML parses to)
// plus the few keyless adds in the same format (keyless-rules.json), validated with zod and compiled once.
import { RE2JS } from "re2js";
import { z } from "zod";
import gitleaks from "./gitleaks.json" with { type: "json" };
import additions from "./keyless-rules.json" with { type: "json" };
import { re2ToJs } from "./re2.js";

const Allowlist = z.strictObject({
  description: z.string().optional(),
  condition: z.enum(["OR", "AND"]).optional(),
  regexTarget: z.enum(["secret", "match", "line"]).optional(),
  regexes: z.array(z.string()).optional(),
  stopwords: z.array(z.string()).optional(),
  /** File paths: the gateway scans text, never files, so a path never matches. */
  paths: z.array(z.string()).optional(),
  commits: z.array(z.string()).optional(),
});

const GitleaksRule = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  description: z.string().optional(),
  regex: z.string().optional(),
  path: z.string().optional(),
  secretGroup: z.number().int().nonnegative().optional(),
  entropy: z.number().nonnegative().optional(),
  keywords: z.array(z.string()).optional(),
  allowlists: z.array(Allowlist).optional(),
  tags: z.array(z.string()).optional(),
});

export const GitleaksConfig = z.strictObject({
  title: z.string().optional(),
  minVersion: z.string().optional(),
  allowlist: Allowlist.optional(),
  rules: z.array(GitleaksRule),
});
export type GitleaksConfig = z.infer<typeof GitleaksConfig>;

/** A pattern, run by V8 where that is safe, else by an RE2 engine whose time is linear in the text. */
export interface Pattern {
  /** Every match: its start, its text and its groups. */
  matches(text: string): Iterable<{ index: number; groups: readonly (string | undefined)[] }>;
  test(text: string): boolean;
  /** Runs on the RE2 engine (a pattern with an unbounded "anything"): linear, but slow. */
  readonly re2: boolean;
}

/**
 * Unbounded "anything" (`.*`, `(?s:.)`, `.{n,}`) lets a backtracking engine retry quadratically or worse on hostile
 * text (gitleaks' curl rules take seconds on 100 KB of `curl -H x`); those patterns run on RE2 semantics instead.
 */
const UNBOUNDED_ANY = /\.\*|\.\+|\(\?s:\.\)|\.\{\d+,\}/;

export function compilePattern(source: string): Pattern {
  if (UNBOUNDED_ANY.test(source)) {
    const re = RE2JS.compile(source);
    return {
      *matches(text) {
        const m = re.matcher(text);
        while (m.find()) {
          const groups: (string | undefined)[] = [];
          for (let g = 0; g <= re.groupCount(); g++) groups.push(m.group(g) ?? undefined);
          yield { index: m.start(), groups };
        }
      },
      test: (text) => re.matcher(text).find(),
      re2: true,
    };
  }
  const js = re2ToJs(source);
  const global = new RegExp(js, "g");
  const once = new RegExp(js);
  return {
    *matches(text) {
      for (const m of text.matchAll(global)) yield { index: m.index, groups: [...m] };
    },
    test: (text) => once.test(text),
    re2: false,
  };
}

export interface CompiledAllowlist {
  readonly and: boolean;
  readonly target: "secret" | "match" | "line";
  readonly regexes: readonly Pattern[];
  readonly stopwords: readonly string[];
  /** An allowlist that needs a path (AND with paths, or paths alone) never applies to text. */
  readonly needsPath: boolean;
}

export interface SecretRule {
  /** `secret.<gitleaks id>`: what grants and findings name. */
  readonly id: string;
  readonly description: string;
  readonly pattern: Pattern;
  readonly secretGroup: number;
  readonly entropy: number;
  /** Lower-case; the rule runs only near one of them (none: everywhere). */
  readonly keywords: readonly string[];
  readonly allowlists: readonly CompiledAllowlist[];
}

export interface SecretRules {
  readonly rules: readonly SecretRule[];
  /**
   * The rules for distinctive token formats only (no generic `key = value`, no RE2-engine pattern): cheap enough to
   * run over text the full scan had no time left for.
   */
  readonly quick: readonly SecretRule[];
  readonly global: readonly CompiledAllowlist[];
  /** Every keyword any rule has, by its first two characters' codes (`code0 << 16 | code1`). */
  readonly keywords: ReadonlyMap<number, readonly string[]>;
}

export const RULE_PREFIX = "secret.";

function compileAllowlist(a: z.infer<typeof Allowlist>): CompiledAllowlist {
  const criteria = (a.regexes?.length ?? 0) + (a.stopwords?.length ?? 0);
  return {
    and: a.condition === "AND",
    target: a.regexTarget ?? "secret",
    regexes: (a.regexes ?? []).map(compilePattern),
    stopwords: (a.stopwords ?? []).map((s) => s.toLowerCase()),
    needsPath: (a.paths?.length ?? 0) > 0 && (a.condition === "AND" || criteria === 0),
  };
}

export const pairCode = (s: string, i: number) => (s.charCodeAt(i) << 16) | s.charCodeAt(i + 1);

/** Compile one or more gitleaks-format configs (later ones add rules; an id used twice is an error). */
export function compileSecretRules(configs: readonly unknown[]): SecretRules {
  const rules: SecretRule[] = [];
  const global: CompiledAllowlist[] = [];
  const seen = new Set<string>();
  for (const raw of configs) {
    const cfg = GitleaksConfig.parse(raw);
    if (cfg.allowlist) global.push(compileAllowlist(cfg.allowlist));
    for (const r of cfg.rules) {
      // Rules about files by name (a .p12 file; a password only in .tf files) need a path text never has.
      if (r.regex === undefined || r.path !== undefined) continue;
      if (seen.has(r.id)) throw new Error(`secret rules: duplicate rule id "${r.id}"`);
      seen.add(r.id);
      try {
        rules.push({
          id: `${RULE_PREFIX}${r.id}`,
          description: r.description ?? r.id,
          pattern: compilePattern(r.regex),
          secretGroup: r.secretGroup ?? 0,
          entropy: r.entropy ?? 0,
          keywords: (r.keywords ?? []).map((k) => k.toLowerCase()),
          allowlists: (r.allowlists ?? []).map(compileAllowlist),
        });
      } catch (err) {
        throw new Error(`secret rule "${r.id}": ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
  const keywords = new Map<number, string[]>();
  for (const k of new Set(rules.flatMap((r) => r.keywords))) {
    if (k.length < 2) throw new Error(`secret rules: keyword "${k}" is shorter than two characters`);
    const code = pairCode(k, 0);
    keywords.set(code, [...(keywords.get(code) ?? []), k]);
  }
  const quick = rules.filter((r) => !r.id.startsWith(`${RULE_PREFIX}generic`) && !r.pattern.re2 && r.keywords.length > 0);
  return { rules, quick, global, keywords };
}

/** The shipped rules: gitleaks' catalogue, then keyless' additions. */
export function loadSecretRules(): SecretRules {
  return compileSecretRules([gitleaks, additions]);
}
