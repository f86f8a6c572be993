// Helpers over config file text for the live-config API: literal secrets (which the API never serves or accepts) and
// a line diff for the audit log.
import { ConfigError, parseHuJson } from "./load.js";

/** Keys whose string values are credentials. Written as ${ENV} references they are fine; literally, they are secrets. */
const SECRET_KEY = /(apikey|api_key|private_key|secret|password|passwd|token|credentials?)$/i;
const SECRET_HEADER = /^\s*(authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key|[a-z-]*token)\s*:\s*(.+)$/i;
/** A password inside a URL ("postgres://user:pw@host/db"). */
const URL_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/:@\s]*:([^/@\s]+)@/i;
const ENV_REF = /\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}/;
const ENV_DEFAULTS = /\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g;

export interface LiteralSecret {
  /** Dotted path, e.g. "providers.anthropic.apikey". */
  readonly path: string;
  readonly value: string;
}

/** Credentials written literally in the config text (not as ${ENV} references). Unparseable text has none. */
export function literalSecrets(text: string): LiteralSecret[] {
  let raw: unknown;
  try {
    raw = parseHuJson(text);
  } catch (err) {
    if (err instanceof ConfigError) return [];
    throw err;
  }
  const found: LiteralSecret[] = [];
  const walk = (value: unknown, path: string[], key: string | null): void => {
    if (typeof value === "string") {
      if (value === "") return;
      if (key !== null && SECRET_KEY.test(key)) {
        // "${KEY:-sk-…}" carries the secret as its default: as literal as writing it out.
        const defaults = [...value.matchAll(ENV_DEFAULTS)].map((m) => m[1]!).filter((d) => d !== "");
        if (!ENV_REF.test(value)) found.push({ path: path.join("."), value });
        else for (const d of defaults) found.push({ path: path.join("."), value: d });
        return;
      }
      const urlPassword = (text: string) => {
        const password = URL_PASSWORD.exec(text);
        if (password) found.push({ path: path.join("."), value: password[1]! });
      };
      if (ENV_REF.test(value)) {
        // A URL with its password in a default ("${PG_URL:-postgres://u:pw@db/k}") is as literal as writing it out.
        for (const [, d] of value.matchAll(ENV_DEFAULTS)) urlPassword(d!);
        return;
      }
      const header = SECRET_HEADER.exec(value);
      if (header && !ENV_REF.test(header[2]!)) found.push({ path: path.join("."), value: header[2]!.trim() });
      urlPassword(value);
      return;
    }
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, String(i)], key));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, [...path, k], k);
  };
  walk(raw, [], null);
  return found;
}

/** Replaces every occurrence of the given secret values. */
export function redact(text: string, secrets: readonly LiteralSecret[]): string {
  let out = text;
  for (const { value } of secrets) if (value.length >= 4) out = out.split(value).join("[redacted]");
  return out;
}

const MAX_DIFF_LINES = 4000;

/** A unified-style line diff ("-" removed, "+" added, two lines of context, "@@ line" markers). */
export function lineDiff(before: string, after: string): string {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length > MAX_DIFF_LINES || b.length > MAX_DIFF_LINES) return `(files too large to diff: ${a.length} → ${b.length} lines)`;
  // Longest common subsequence table, from the end.
  const lcs: Uint32Array[] = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  type Op = { kind: " " | "-" | "+"; line: string; at: number };
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push({ kind: " ", line: a[i++]!, at: j++ });
    else if (j < b.length && (i === a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) ops.push({ kind: "+", line: b[j]!, at: j++ });
    else ops.push({ kind: "-", line: a[i++]!, at: j });
  }
  const keep = new Set<number>();
  ops.forEach((op, k) => {
    if (op.kind === " ") return;
    for (let c = Math.max(0, k - 2); c <= Math.min(ops.length - 1, k + 2); c++) keep.add(c);
  });
  const out: string[] = [];
  let last = -2;
  ops.forEach((op, k) => {
    if (!keep.has(k)) return;
    if (k !== last + 1) out.push(`@@ line ${op.at + 1}`);
    out.push(`${op.kind}${op.line}`);
    last = k;
  });
  return out.join("\n");
}
