// Reads a HuJSON config (comments, trailing commas), substitutes ${ENV}, validates with zod.
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { z } from "zod";
import { apertureWarnings } from "./aperture.js";
import { Config } from "./schema.js";

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

export interface LoadedConfig {
  readonly config: Config;
  /** The file text as read (before env substitution), and its hash for optimistic concurrency. */
  readonly text: string;
  readonly hash: string;
  /** Fields the config sets that keyless accepts and does not act on (Aperture's), each named with the reason. */
  readonly warnings: readonly string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

export function hashConfigText(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Parses HuJSON text into plain JSON values, reporting line:column for syntax errors. */
export function parseHuJson(text: string): unknown {
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((e) => {
        const { line, column } = position(text, e.offset);
        return `${line}:${column}: ${printParseErrorCode(e.error)}`;
      }),
    );
  }
  return value;
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A value taken from the environment, and where it went: problems name the variable, never the value. */
export interface Substitution {
  readonly path: string;
  readonly name: string;
  readonly value: string;
}

/** Replaces ${NAME} and ${NAME:-default} in every string value; a missing variable without default is an error. */
export function substituteEnv(value: unknown, env: Env, path: string[] = [], missing: string[] = [], used: Substitution[] = []): unknown {
  if (typeof value === "string") {
    return value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined) {
        used.push({ path: path.join("."), name, value: v });
        return v;
      }
      if (fallback !== undefined) return fallback;
      missing.push(`${path.join(".") || "(root)"}: environment variable ${name} is not set`);
      return "";
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, [...path, String(i)], missing, used));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, env, [...path, k], missing, used)]));
  }
  return value;
}

/** Values this short are hidden only in problems about their own path (elsewhere they would mangle ordinary words). */
const SHORT_VALUE = 4;
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@"]*:)[^\s/@"]+@/gi;

/**
 * A problem as it may be shown (API answers, logs, `keyless config check`): an environment variable's value becomes
 * its ${NAME} (a key put where a size belongs must not come back in "got ..."), and a URL's password is masked.
 */
function hideSecrets(problem: string, used: readonly Substitution[]): string {
  let out = problem;
  for (const { path, name, value } of [...used].sort((a, b) => b.value.length - a.value.length)) {
    if (value === "" || (value.length < SHORT_VALUE && !out.startsWith(`${path}:`))) continue;
    out = out.split(value).join(`\${${name}}`);
  }
  return out.replace(URL_PASSWORD, "$1***@");
}

/** Formats zod issues as "path.to.field: message", one per problem. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    let message = issue.message;
    if (issue.code === "unrecognized_keys") message = issue.keys.map((k) => `unknown config key "${k}"`).join(", ");
    if (issue.code === "invalid_union" && "note" in issue && issue.note === "No matching discriminator") {
      message = "unknown type";
    }
    return path ? `${path}: ${message}` : message;
  });
}

/** Validates text as a config. Throws ConfigError listing every problem. */
export function parseConfigText(text: string, env: Env = process.env): LoadedConfig {
  const raw = parseHuJson(text);
  const missing: string[] = [];
  const used: Substitution[] = [];
  const substituted = substituteEnv(raw, env, [], missing, used);
  const result = Config.safeParse(substituted);
  const problems = [...missing, ...(result.success ? [] : formatIssues(result.error))].map((p) => hideSecrets(p, used));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  const warnings = apertureWarnings(substituted).map((w) => hideSecrets(w, used));
  return { config: deepFreeze(result.data), text, hash: hashConfigText(text), warnings };
}

export function loadConfigFile(path: string, env: Env = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError([`${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err)}`]);
  }
  return parseConfigText(text, env);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
