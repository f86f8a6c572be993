// The rule catalog format (rules/catalog.json) and config overrides, validated with zod.
// Rules match structured data (a simple command's name, flags, positionals, redirections, pipeline neighbours;
// a file path; SQL text; interpreter code; an MCP call; a call attribute), never the raw command string.
import { z } from "zod";
import { ACTIONS, CATEGORIES, SEVERITIES } from "./types.js";

/** A regular expression source; `{{name}}` refers to an entry of the catalog's `patterns`. */
const Regex = z.string().min(1);
const Names = z.array(z.string().min(1)).min(1);
const AnyNone = z.strictObject({ any: Names.optional(), none: Names.optional(), present: z.boolean().optional() });

const MARKERS = [
  "ansi_c", "quote_splice", "ifs", "variable_command", "expansion_trick", "nested_shell", "eval", "pipe_program",
  "heredoc_program", "written_script",
  "base64", "hex", "printf_escape", "interpreter", "remote", "find_exec", "xargs", "read_loop", "alias", "trap", "watch",
  "function_body", "fork_bomb", "runs_download", "dynamic_program",
] as const;

export const CommandMatch = z.strictObject({
  /** Program basenames after unwrapping; a trailing `*` matches a prefix (`mkfs*`). */
  command: Names.optional(),
  /** Leading positionals: `[["s3"], ["rm", "rb"]]` matches `aws s3 rm …` and `aws s3 rb …`. */
  sub: z.array(Names).min(1).optional(),
  /** Normalized flags: `-rf` counts as `-r` and `-f`; `--force=x` as `--force`. `all` is a list of alternatives. */
  flags: z.strictObject({ all: z.array(Names).optional(), any: Names.optional(), none: Names.optional() }).optional(),
  /** Positional arguments (option values excluded). */
  args: z
    .strictObject({
      any: Regex.optional(),
      all: z.array(Regex).optional(),
      none: Regex.optional(),
      first: Regex.optional(),
      min: z.number().int().nonnegative().optional(),
      max: z.number().int().nonnegative().optional(),
    })
    .optional(),
  /** All raw arguments, flags included. */
  argv: z.strictObject({ any: Regex.optional(), max: z.number().int().nonnegative().optional() }).optional(),
  /** Values of the named options (`-d @file`, `--data=@file`). */
  option: z.strictObject({ names: Names, pattern: Regex }).optional(),
  redirect: z.strictObject({ ops: Names.optional(), target: Regex }).optional(),
  upstream: AnyNone.optional(),
  downstream: AnyNone.optional(),
  /** `terminal`: output is neither piped nor redirected to a file (it lands in the transcript). */
  stdout: z.literal("terminal").optional(),
  stdinProgram: z.boolean().optional(),
  /** Commands whose output is spliced into the arguments; `*` for any. */
  argSources: Names.optional(),
  markers: z.array(z.enum(MARKERS)).min(1).optional(),
  wrappers: Names.optional(),
  nameKnown: z.boolean().optional(),
  /** Names of variables referenced in the arguments. */
  vars: Regex.optional(),
  /** Names of variables assigned for the command (`X=1 cmd`, `env X=1`, `export X=1`). */
  assigns: Regex.optional(),
  reads: Regex.optional(),
  writes: Regex.optional(),
  /** Some URL in the arguments has a host not matching `outside`. */
  urlHost: z.strictObject({ outside: Regex }).optional(),
});

const RuleBase = {
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, "rule ids are lower-case dotted words"),
  category: z.enum(CATEGORIES),
  severity: z.enum(SEVERITIES),
  /** Defaults from severity: critical/high → block, medium → flag, low → log. */
  action: z.enum(ACTIONS).optional(),
  message: z.string().min(1),
  ignoreCase: z.boolean().optional(),
};

export const CALL_FIELDS = ["sandboxEscalation", "unknownArgs", "unknownShell", "remote", "analysisIncomplete", "analysisLimit"] as const;

export const Rule = z.discriminatedUnion("target", [
  z.strictObject({ ...RuleBase, target: z.literal("command"), match: CommandMatch }),
  z.strictObject({
    ...RuleBase,
    target: z.literal("path"),
    match: z.strictObject({
      access: z.array(z.enum(["read", "write"])).min(1),
      pattern: Regex,
      except: Regex.optional(),
    }),
  }),
  z.strictObject({ ...RuleBase, target: z.literal("sql"), match: z.strictObject({ any: z.array(Regex).min(1) }) }),
  z.strictObject({
    ...RuleBase,
    target: z.literal("code"),
    match: z.strictObject({
      lang: z.array(z.enum(["python", "node", "perl", "ruby", "php", "awk", "sql", "mongo"])).min(1),
      all: z.array(Regex).optional(),
      any: z.array(Regex).optional(),
    }),
  }),
  z.strictObject({
    ...RuleBase,
    target: z.literal("mcp"),
    match: z.strictObject({ server: Regex.optional(), tool: Regex.optional(), args: Regex.optional() }),
  }),
  z.strictObject({ ...RuleBase, target: z.literal("call"), match: z.strictObject({ field: z.enum(CALL_FIELDS) }) }),
]);
export type Rule = z.infer<typeof Rule>;
export type CommandMatch = z.infer<typeof CommandMatch>;

export const Catalog = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal(1),
  /** Named regex fragments, referenced as `{{name}}` inside rule patterns. */
  patterns: z.record(z.string().regex(/^\w+$/), z.string()).default({}),
  /** MCP argument keys whose string values are checked by `sql` rules. */
  sqlArgKeys: Regex.default("^(sql|query|statement|stmt|q)$"),
  rules: z.array(Rule),
});
export type Catalog = z.infer<typeof Catalog>;

/** Config overrides: add or replace rules (same id replaces), disable by id, change severity/action by id. */
export const RuleOverrides = z.strictObject({
  patterns: z.record(z.string().regex(/^\w+$/), z.string()).optional(),
  rules: z.array(Rule).optional(),
  disable: z.array(z.string()).optional(),
  set: z
    .record(z.string(), z.strictObject({ severity: z.enum(SEVERITIES).optional(), action: z.enum(ACTIONS).optional() }))
    .optional(),
});
export type RuleOverrides = z.infer<typeof RuleOverrides>;

/**
 * Validate the base catalog and the overrides and merge them. Throws with a specific message on an invalid
 * catalog, an invalid override, or an override naming a rule id that does not exist.
 */
export function mergeCatalog(base: unknown, overrides?: unknown): Catalog {
  const cat = Catalog.parse(base);
  const ov = RuleOverrides.parse(overrides ?? {});
  const ids = new Set<string>();
  for (const r of cat.rules) {
    if (ids.has(r.id)) throw new Error(`rule catalog: duplicate rule id "${r.id}"`);
    ids.add(r.id);
  }
  const rules = new Map(cat.rules.map((r) => [r.id, r] as const));
  for (const r of ov.rules ?? []) rules.set(r.id, r);
  for (const id of ov.disable ?? []) {
    if (!rules.delete(id)) throw new Error(`rule overrides: cannot disable unknown rule "${id}"`);
  }
  for (const [id, change] of Object.entries(ov.set ?? {})) {
    const r = rules.get(id);
    if (!r) throw new Error(`rule overrides: cannot change unknown rule "${id}"`);
    rules.set(id, { ...r, ...change });
  }
  return { ...cat, patterns: { ...cat.patterns, ...ov.patterns }, rules: [...rules.values()] };
}
