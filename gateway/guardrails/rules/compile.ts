// Compiles a validated catalog into predicates, indexed by program name so a command only meets its own rules.
import type { InlineCode, SimpleCommand } from "../shell/types.js";
import type { Action, Category, Severity } from "./types.js";
import { mergeCatalog, type Catalog, type CommandMatch, type Rule } from "./schema.js";

export interface RuleMeta {
  readonly id: string;
  readonly category: Category;
  readonly severity: Severity;
  readonly action: Action;
  readonly message: string;
}

type Pred<T> = (x: T) => boolean;

interface CommandRule {
  readonly meta: RuleMeta;
  readonly test: Pred<SimpleCommand>;
}

interface Buckets {
  readonly commandByName: Map<string, CommandRule[]>;
  readonly commandGeneric: CommandRule[];
  readonly path: { meta: RuleMeta; read: boolean; write: boolean; test: Pred<string> }[];
  readonly sql: { meta: RuleMeta; patterns: readonly RegExp[] }[];
  readonly code: { meta: RuleMeta; test: Pred<InlineCode> }[];
  readonly mcp: { meta: RuleMeta; test: (server: string, tool: string, args: string) => boolean }[];
  readonly call: { meta: RuleMeta; field: string }[];
}

/** Compiled rule set: pass it to `analyzeToolCall`. Immutable after compilation; safe to share. */
export interface CompiledRules extends Buckets {
  /** MCP argument keys whose string values are checked by `sql` rules. */
  readonly sqlArgKeys: RegExp;
  /** Every rule's id, category, severity, effective action and message, in catalog order. */
  readonly metas: readonly RuleMeta[];
  readonly ruleIds: readonly string[];
}

const DEFAULT_ACTION: Record<Severity, Action> = { critical: "block", high: "block", medium: "flag", low: "log" };

/** Validate, merge overrides, compile. The result holds no shared state and can be reused across calls. */
export function loadRules(base: unknown, overrides?: unknown): CompiledRules {
  return compileCatalog(mergeCatalog(base, overrides));
}

export function compileCatalog(cat: Catalog): CompiledRules {
  const expand = (src: string, ruleId: string, depth = 0): string =>
    src.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
      const p = cat.patterns[name];
      if (p === undefined) throw new Error(`rule ${ruleId}: unknown pattern {{${name}}}`);
      if (depth > 4) throw new Error(`rule ${ruleId}: patterns nest too deeply`);
      return expand(p, ruleId, depth + 1);
    });
  const out: CompiledRules = {
    commandByName: new Map(),
    commandGeneric: [],
    path: [],
    sql: [],
    code: [],
    mcp: [],
    call: [],
    sqlArgKeys: new RegExp(expand(cat.sqlArgKeys, "sqlArgKeys"), "i"),
    metas: cat.rules.map((rule) => ({
      id: rule.id,
      category: rule.category,
      severity: rule.severity,
      action: rule.action ?? DEFAULT_ACTION[rule.severity],
      message: rule.message,
    })),
    ruleIds: cat.rules.map((r) => r.id),
  };
  cat.rules.forEach((rule, i) => {
    const meta = out.metas[i];
    if (!meta) return;
    const re = (src: string): RegExp => {
      try {
        return new RegExp(expand(src, rule.id), rule.ignoreCase || rule.target === "sql" ? "i" : "");
      } catch (e) {
        throw new Error(`rule ${rule.id}: invalid pattern ${JSON.stringify(src)}: ${(e as Error).message}`);
      }
    };
    compileRule(rule, meta, re, out);
  });
  return out;
}

function compileRule(rule: Rule, meta: RuleMeta, re: (s: string) => RegExp, out: Buckets): void {
  switch (rule.target) {
    case "command": {
      const test = commandPredicate(rule.match, re);
      const names = rule.match.command;
      if (names && names.every((n) => !n.endsWith("*"))) {
        for (const n of names) {
          const list = out.commandByName.get(n) ?? [];
          list.push({ meta, test });
          out.commandByName.set(n, list);
        }
      } else out.commandGeneric.push({ meta, test });
      return;
    }
    case "path": {
      const pattern = re(rule.match.pattern);
      const except = rule.match.except ? re(rule.match.except) : undefined;
      out.path.push({
        meta,
        read: rule.match.access.includes("read"),
        write: rule.match.access.includes("write"),
        test: (p) => pattern.test(p) && !(except?.test(p) ?? false),
      });
      return;
    }
    case "sql":
      out.sql.push({ meta, patterns: rule.match.any.map(re) });
      return;
    case "code": {
      const langs = new Set<string>(rule.match.lang);
      const all = (rule.match.all ?? []).map(re);
      const any = (rule.match.any ?? []).map(re);
      out.code.push({
        meta,
        test: (c) => langs.has(c.lang) && all.every((r) => r.test(c.text)) && (any.length === 0 || any.some((r) => r.test(c.text))),
      });
      return;
    }
    case "mcp": {
      const server = rule.match.server ? re(rule.match.server) : undefined;
      const tool = rule.match.tool ? re(rule.match.tool) : undefined;
      const args = rule.match.args ? re(rule.match.args) : undefined;
      out.mcp.push({
        meta,
        test: (s, t, a) => (server?.test(s) ?? true) && (tool?.test(t) ?? true) && (args?.test(a) ?? true),
      });
      return;
    }
    case "call":
      out.call.push({ meta, field: rule.match.field });
      return;
  }
}

const URL_HOST = /^[a-z][\w+.-]*:\/\/(?:[^/@\s]*@)?([^/:?#\s]+)/i;
const FILE_OUT = new Set([">", ">>", ">|", "&>", "&>>"]);

function anyNone(
  spec: { any?: string[] | undefined; none?: string[] | undefined; present?: boolean | undefined },
  pick: (c: SimpleCommand) => readonly string[],
): Pred<SimpleCommand>[] {
  const preds: Pred<SimpleCommand>[] = [];
  if (spec.present !== undefined) preds.push((c) => pick(c).length > 0 === spec.present);
  if (spec.any) {
    const s = new Set(spec.any);
    preds.push((c) => pick(c).some((n) => s.has(n)));
  }
  if (spec.none) {
    const s = new Set(spec.none);
    preds.push((c) => !pick(c).some((n) => s.has(n)));
  }
  return preds;
}

function commandPredicate(m: CommandMatch, re: (s: string) => RegExp): Pred<SimpleCommand> {
  const p: Pred<SimpleCommand>[] = [];
  if (m.command) {
    const exact = new Set(m.command.filter((n) => !n.endsWith("*")));
    const prefixes = m.command.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));
    p.push((c) => exact.has(c.name) || prefixes.some((x) => c.name.startsWith(x)));
  }
  if (m.nameKnown !== undefined) p.push((c) => c.nameKnown === m.nameKnown);
  if (m.stdinProgram !== undefined) p.push((c) => c.stdinProgram === m.stdinProgram);
  if (m.sub) {
    const sub = m.sub.map((alts) => new Set(alts));
    p.push((c) => sub.every((alts, i) => alts.has(c.positionals[i] ?? "\0")));
  }
  if (m.flags?.all) {
    const groups = m.flags.all;
    p.push((c) => groups.every((g) => g.some((f) => c.flags.has(f))));
  }
  if (m.flags?.any) {
    const any = m.flags.any;
    p.push((c) => any.some((f) => c.flags.has(f)));
  }
  if (m.flags?.none) {
    const none = m.flags.none;
    p.push((c) => !none.some((f) => c.flags.has(f)));
  }
  if (m.args) {
    const a = m.args;
    if (a.min !== undefined) p.push((c) => c.positionals.length >= (a.min ?? 0));
    if (a.max !== undefined) p.push((c) => c.positionals.length <= (a.max ?? 0));
    if (a.first) {
      const r = re(a.first);
      p.push((c) => c.positionals[0] !== undefined && r.test(c.positionals[0]));
    }
    if (a.any) {
      const r = re(a.any);
      p.push((c) => c.positionals.some((x) => r.test(x)));
    }
    if (a.all) {
      const rs = a.all.map(re);
      p.push((c) => rs.every((r) => c.positionals.some((x) => r.test(x))));
    }
    if (a.none) {
      const r = re(a.none);
      p.push((c) => !c.positionals.some((x) => r.test(x)));
    }
  }
  if (m.argv?.max !== undefined) p.push((c) => c.args.length <= (m.argv?.max ?? 0));
  if (m.argv?.any) {
    const r = re(m.argv.any);
    p.push((c) => c.args.some((x) => r.test(x)));
  }
  if (m.option) {
    const names = m.option.names;
    const r = re(m.option.pattern);
    p.push((c) => names.some((n) => (c.options.get(n) ?? []).some((v) => r.test(v))));
  }
  if (m.redirect) {
    const ops = m.redirect.ops ? new Set(m.redirect.ops) : undefined;
    const r = re(m.redirect.target);
    p.push((c) => c.redirects.some((x) => (ops?.has(x.op) ?? true) && r.test(x.target)));
  }
  if (m.upstream) p.push(...anyNone(m.upstream, (c) => c.upstream));
  if (m.downstream) p.push(...anyNone(m.downstream, (c) => c.downstream));
  if (m.stdout === "terminal") {
    p.push((c) => c.downstream.length === 0 && !c.redirects.some((r) => FILE_OUT.has(r.op) && (r.fd ?? 1) === 1));
  }
  if (m.argSources) {
    const s = new Set(m.argSources);
    p.push((c) => c.argSources.some((n) => s.has("*") || s.has(n)));
  }
  if (m.markers) {
    const ms = m.markers;
    p.push((c) => ms.some((x) => c.markers.has(x)));
  }
  if (m.wrappers) {
    const s = new Set(m.wrappers);
    p.push((c) => c.wrappers.some((w) => s.has(w)));
  }
  const regexOver = (src: string | undefined, pick: (c: SimpleCommand) => readonly string[]): void => {
    if (src === undefined) return;
    const r = re(src);
    p.push((c) => pick(c).some((x) => r.test(x)));
  };
  regexOver(m.vars, (c) => c.vars);
  regexOver(m.assigns, (c) => c.assigns.map((a) => a.name));
  regexOver(m.reads, (c) => c.reads);
  regexOver(m.writes, (c) => c.writes);
  if (m.urlHost) {
    const r = re(m.urlHost.outside);
    p.push((c) =>
      c.args.some((a) => {
        const host = URL_HOST.exec(a)?.[1];
        return host !== undefined && !r.test(host);
      }),
    );
  }
  return (c) => p.every((f) => f(c));
}
