// Finding credentials in text with the secret rules, as gitleaks does: a rule runs only near one of its keywords,
// its secret (a capture group, else the match) must pass the rule's entropy, the allowlists and the format's own check.
import type { CompiledAllowlist, SecretRule, SecretRules } from "./rules.js";
import { RULE_PREFIX, pairCode } from "./rules.js";
import { VERIFIERS } from "./verify.js";
import { TimeLimit } from "../bounds/time-limit.js";

export interface SecretMatch {
  readonly ruleId: string;
  /** The secret's place in the scanned text. */
  readonly start: number;
  readonly end: number;
  /** True: the format's check passed; false: it has a check and failed it (only non-decisive checks); else none. */
  readonly verified?: boolean;
}

/** The time one request's scan may take in all; past it the rest is unscanned (and reported so). */
export interface ScanBudget {
  readonly time: TimeLimit;
  exhausted: boolean;
}

export const scanBudget = (ms: number): ScanBudget => ({ time: new TimeLimit(ms), exhausted: false });

/** How far around a keyword a rule looks: a match starts up to a line before it and may run long (a private key). */
const BEFORE_KEYWORD = 1024;
const AFTER_KEYWORD = 16 * 1024;

export function shannonEntropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function lineAround(text: string, start: number, end: number): string {
  const from = text.lastIndexOf("\n", start - 1) + 1;
  const to = text.indexOf("\n", end);
  return text.slice(from, to < 0 ? text.length : to);
}

/** gitleaks' allowlist semantics: any one criterion allows (OR), or all of them (AND). */
function allowed(lists: readonly CompiledAllowlist[], secret: string, match: string, line: () => string): boolean {
  return lists.some((a) => {
    if (a.needsPath) return false;
    const target = a.target === "match" ? match : a.target === "line" ? line() : secret;
    const lower = secret.toLowerCase();
    const checks = [
      ...(a.regexes.length > 0 ? [a.regexes.some((r) => r.test(target))] : []),
      ...(a.stopwords.length > 0 ? [a.stopwords.some((w) => lower.includes(w))] : []),
    ];
    return checks.length > 0 && (a.and ? checks.every(Boolean) : checks.some(Boolean));
  });
}

/** Spans of `text` to run `rule` on: around each of its keywords (merged), or all of it. */
function windows(rule: SecretRule, positions: ReadonlyMap<string, readonly number[]>, length: number): [number, number][] {
  if (rule.keywords.length === 0) return [[0, length]];
  const at = rule.keywords.flatMap((k) => positions.get(k) ?? []).sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (const p of at) {
    const from = Math.max(0, p - BEFORE_KEYWORD);
    const to = Math.min(length, p + AFTER_KEYWORD);
    const last = out.at(-1);
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

/** Where each keyword occurs: one pass over the text, looking keywords up by the two characters at each place. */
function keywordPositions(rules: SecretRules, text: string): Map<string, number[]> {
  const positions = new Map<string, number[]>();
  // Lower-casing keeps ASCII offsets; keywords are ASCII, so a shifted offset only moves a window a little.
  const lower = text.toLowerCase();
  for (let i = 0; i + 1 < lower.length; i++) {
    const candidates = rules.keywords.get(pairCode(lower, i));
    if (candidates === undefined) continue;
    for (const k of candidates) {
      if (!lower.startsWith(k, i)) continue;
      const list = positions.get(k);
      if (list) list.push(i);
      else positions.set(k, [i]);
    }
  }
  return positions;
}

function secretOf(rule: SecretRule, groups: readonly (string | undefined)[]): string | undefined {
  if (rule.secretGroup > 0) return groups[rule.secretGroup];
  return groups.slice(1).find((g) => g !== undefined && g !== "") ?? groups[0];
}

/** Every secret in `text` (overlapping matches of different rules included); `quick`: the token formats only. */
export function scanText(rules: SecretRules, text: string, budget: ScanBudget, quick = false): SecretMatch[] {
  if (text.length < 8 || budget.exhausted) return [];
  const positions = keywordPositions(rules, text);
  const out: SecretMatch[] = [];
  const seen = new Set<string>();
  /** Spans a format's own check showed are not tokens (the generic rule must not report them either). */
  const rejected: [number, number][] = [];
  for (const rule of quick ? rules.quick : rules.rules) {
    if (budget.time.passed()) {
      budget.exhausted = true;
      break;
    }
    const short = rule.id.slice(RULE_PREFIX.length);
    for (const [from, to] of windows(rule, positions, text.length)) {
      const slice = text.slice(from, to);
      for (const m of rule.pattern.matches(slice)) {
        const whole = m.groups[0] ?? "";
        const secret = secretOf(rule, m.groups);
        if (!secret) continue;
        const start = from + m.index + Math.max(0, whole.indexOf(secret));
        const end = start + secret.length;
        const key = `${rule.id}:${start}:${end}`;
        if (seen.has(key)) continue;
        if (rule.entropy > 0 && (shannonEntropy(secret) <= rule.entropy || (short.startsWith("generic") && !/\d/.test(secret)))) continue;
        const line = () => lineAround(text, start, end);
        if (allowed(rules.global, secret, whole, line) || allowed(rule.allowlists, secret, whole, line)) continue;
        const verifier = VERIFIERS[short];
        const verified = verifier?.check(secret);
        if (verifier?.decisive && !verified) {
          rejected.push([start, end]);
          continue;
        }
        seen.add(key);
        out.push({ ruleId: rule.id, start, end, ...(verified !== undefined ? { verified } : {}) });
      }
    }
  }
  // A specific rule names a secret better than the generic "key = value" one that also matched it.
  const specific: [number, number][] = [...out.filter((m) => !m.ruleId.startsWith(GENERIC)).map((m): [number, number] => [m.start, m.end]), ...rejected];
  return out.filter((m) => !m.ruleId.startsWith(GENERIC) || !specific.some(([a, b]) => a < m.end && m.start < b));
}

const GENERIC = `${RULE_PREFIX}generic`;
