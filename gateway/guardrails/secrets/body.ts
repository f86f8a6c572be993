// Secrets in what an agent sends: every text a request body carries (tool results, user and system text, attached
// text files, earlier tool calls), found per string and replaced by a marker naming the rule. Strings are scanned
// once: an agent resends its whole history with every turn, so results are cached by the text's hash (offsets and
// rule ids only, never the text).
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { SecretRules } from "./rules.js";
import { decodeBase64Text, decodeDataUrl, type EncodedText, hasMedia, mediaTypeOf } from "./attachments.js";
import { type ScanBudget, type SecretMatch, scanBudget, scanText } from "./scan.js";

/** Which part of the conversation a secret was in. */
export type SecretPlace = "tool_result" | "system" | "message" | "tool_call";

export interface FoundSecret {
  readonly ruleId: string;
  readonly place: SecretPlace;
  /** HMAC of the secret under the gateway's fingerprint key: the same secret has the same fingerprint. */
  readonly fingerprint: string;
  readonly verified?: boolean;
  /** The tool call whose result carried it (tool results only). */
  readonly callId?: string;
  /** In memory only, to redact and mask; never stored, logged or sent. */
  readonly secret: string;
}

export interface BodyScan {
  readonly found: readonly FoundSecret[];
  /** The scan ran out of time: some text was not scanned. */
  readonly incomplete: boolean;
}

/** What replaces a redacted secret: the rule it matched, so the agent (and a reader) knows what was there. */
export const marker = (ruleId: string) => `[REDACTED ${ruleId}]`;

const CACHE_ENTRIES = 4096;
/** Shorter strings are scanned again rather than hashed and cached. */
const CACHE_MIN_LENGTH = 256;
/** Keys whose strings are never text: signatures, encrypted reasoning, ids, and the tools' own definitions. */
const SKIP_KEYS = new Set(["signature", "encrypted_content", "id", "tool_use_id", "call_id", "tool_call_id", "model", "tools", "toolConfig", "thoughtSignature"]);
/** Blocks bound to a provider signature, or opaque: changing them breaks the conversation. */
const SKIP_TYPES = new Set(["thinking", "redacted_thinking", "reasoning", "image", "input_image"]);

interface Context {
  readonly place: SecretPlace;
  readonly callId?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** The context an object opens, from its own shape (Anthropic, OpenAI Chat and Responses, Gemini, Bedrock). */
function contextOf(o: Record<string, unknown>, outer: Context): Context {
  const str = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : undefined);
  const type = str("type");
  if (type === "tool_result") return { place: "tool_result", ...(str("tool_use_id") ? { callId: str("tool_use_id") } : {}) };
  if (type === "function_call_output" || type === "custom_tool_call_output") return { place: "tool_result", ...(str("call_id") ? { callId: str("call_id") } : {}) };
  if (str("role") === "tool") return { place: "tool_result", ...(str("tool_call_id") ? { callId: str("tool_call_id") } : {}) };
  if (isRecord(o.functionResponse)) {
    const id = o.functionResponse.id ?? o.functionResponse.name;
    return { place: "tool_result", ...(typeof id === "string" ? { callId: id } : {}) };
  }
  if (isRecord(o.toolResult) && typeof o.toolResult.toolUseId === "string") return { place: "tool_result", callId: o.toolResult.toolUseId };
  if (type === "tool_use" || type === "function_call" || type === "custom_tool_call" || "functionCall" in o || "toolUse" in o) return { place: "tool_call" };
  if (str("role") === "system" || str("role") === "developer") return { place: "system" };
  return outer;
}

function placeOfKey(key: string, outer: Context): Context {
  if (key === "system" || key === "systemInstruction" || key === "instructions") return { place: "system" };
  if (key === "tool_calls") return { place: "tool_call" };
  return outer;
}

export class SecretScanner {
  private readonly cache = new Map<string, readonly SecretMatch[]>();
  private readonly key: Buffer;

  constructor(
    readonly rules: SecretRules,
    fingerprintKey?: string,
  ) {
    // Without a configured key, fingerprints are stable for the process's life only (enough to link calls).
    this.key = fingerprintKey ? Buffer.from(fingerprintKey) : randomBytes(32);
  }

  fingerprint(secret: string): string {
    return createHmac("sha256", this.key).update(secret).digest("hex").slice(0, 16);
  }

  /** Matches in one string, from the cache when it was seen before. */
  scanString(text: string, budget: ScanBudget): readonly SecretMatch[] {
    if (text.length < CACHE_MIN_LENGTH) return scanText(this.rules, text, budget);
    const hash = createHash("sha256").update(text).digest("base64");
    const hit = this.cache.get(hash);
    if (hit) {
      this.cache.delete(hash);
      this.cache.set(hash, hit);
      return hit;
    }
    const matches = scanText(this.rules, text, budget);
    // A scan cut short is not the text's answer: never cached.
    if (budget.exhausted) return matches;
    this.cache.set(hash, matches);
    if (this.cache.size > CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value ?? "");
    return matches;
  }

  /**
   * Every secret in the body's text, within `budget` (milliseconds for this body, or a budget shared with others).
   * Tool results go first, then the conversation newest first, the system text last: what an agent just read is what
   * most likely carries a secret, and the older text is usually cached. Text the full scan had no time for gets the
   * quick scan (token formats only) within a second budget of the same size; only what neither reached is unscanned.
   */
  scanBody(body: unknown, budgetOrMs: number | ScanBudget): BodyScan {
    const budget = typeof budgetOrMs === "number" ? scanBudget(budgetOrMs) : budgetOrMs;
    const texts = orderedTexts(body);
    const found: FoundSecret[] = [];
    const record = (t: Text, matches: readonly SecretMatch[]) => {
      for (const m of matches) {
        const secret = t.text.slice(m.start, m.end);
        found.push({
          ruleId: m.ruleId,
          place: t.ctx.place,
          fingerprint: this.fingerprint(secret),
          secret,
          ...(m.verified !== undefined ? { verified: m.verified } : {}),
          ...(t.ctx.callId !== undefined ? { callId: t.ctx.callId } : {}),
        });
      }
    };
    let i = 0;
    for (; i < texts.length && !budget.exhausted; i++) {
      const t = texts[i]!;
      const matches = this.scanString(t.text, budget);
      if (budget.exhausted) break;
      record(t, matches);
    }
    if (i >= texts.length) return { found, incomplete: false };
    const quick = scanBudget(budget.time.ms);
    for (; i < texts.length && !quick.exhausted; i++) {
      const t = texts[i]!;
      const matches = scanText(this.rules, t.text, quick, true);
      record(t, matches);
    }
    return { found, incomplete: true };
  }
}

interface Text {
  readonly text: string;
  readonly ctx: Context;
}

/** The body's strings in scanning order: tool results newest first, then other text newest first, system text last. */
function orderedTexts(body: unknown): Text[] {
  const all: Text[] = [];
  const visit = (v: unknown, ctx: Context, depth: number): void => {
    if (depth > 64) return;
    if (typeof v === "string") {
      // An attached file as a data: URL (OpenAI input_file): its text, decoded.
      const text = decodeDataUrl(v)?.text ?? v;
      if (text.length >= 8) all.push({ text, ctx });
    } else if (Array.isArray(v)) {
      for (const x of v) visit(x, ctx, depth + 1);
    } else if (isRecord(v)) {
      if (typeof v.type === "string" && SKIP_TYPES.has(v.type)) return;
      const inner = contextOf(v, ctx);
      const media = hasMedia(v);
      for (const [k, x] of Object.entries(v)) {
        if (SKIP_KEYS.has(k)) continue;
        // Media `data` beside its media type is base64 (scanned when it decodes to text), or a text document's text.
        const data = media && k === "data" && v.type !== "text";
        if (!data) visit(x, placeOfKey(k, inner), depth + 1);
        else if (typeof x === "string") visit(decodeBase64Text(x, mediaTypeOf(v))?.text, inner, depth + 1);
      }
    }
  };
  visit(body, { place: "message" }, 0);
  const rank = (t: Text) => (t.ctx.place === "tool_result" ? 0 : t.ctx.place === "system" ? 2 : 1);
  return all.reverse().sort((a, b) => rank(a) - rank(b));
}

/** `text` with every occurrence of the given secrets replaced by their markers (longest secrets first). */
export function maskText(text: string, secrets: readonly { secret: string; ruleId: string }[]): string {
  let out = text;
  for (const s of [...secrets].sort((a, b) => b.secret.length - a.secret.length)) {
    if (out.includes(s.secret)) out = out.split(s.secret).join(marker(s.ruleId));
  }
  return out;
}

/** `raw` with the secrets masked: inside its encoded text when it is an attachment (encoded again), else as text. */
function maskEncoded(encoded: EncodedText | undefined, raw: string, secrets: readonly { secret: string; ruleId: string }[]): string {
  if (!encoded) return maskText(raw, secrets);
  const masked = maskText(encoded.text, secrets);
  return masked === encoded.text ? raw : encoded.encode(masked);
}

/** A copy of a JSON value with the secrets replaced in every string (unchanged parts shared, not copied). */
export function maskValue<T>(value: T, secrets: readonly { secret: string; ruleId: string }[]): T {
  if (secrets.length === 0) return value;
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return maskEncoded(decodeDataUrl(v), v, secrets);
    if (depth > 128 || v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) {
      const next = v.map((x) => walk(x, depth + 1));
      return next.some((x, i) => x !== v[i]) ? next : v;
    }
    let changed = false;
    const next: Record<string, unknown> = {};
    const media = hasMedia(v as Record<string, unknown>) && (v as Record<string, unknown>).type !== "text";
    for (const [k, x] of Object.entries(v)) {
      const base64 = media && k === "data" && typeof x === "string";
      const y = base64 ? maskEncoded(decodeBase64Text(x, mediaTypeOf(v as Record<string, unknown>)), x, secrets) : walk(x, depth + 1);
      changed ||= y !== x;
      next[k] = y;
    }
    return changed ? next : v;
  };
  return walk(value, 0) as T;
}

export const WITHHELD = Buffer.from("[capture withheld by keyless: it carried a secret that could not be masked in place]");

/**
 * Bytes (a capture) with the secrets masked in their raw and JSON-escaped forms. Bytes that are not UTF-8 text
 * (AWS event streams) cannot be edited in place: if a secret shows in them, the whole body is withheld.
 */
export function maskBytes(bytes: Uint8Array, secrets: readonly { secret: string; ruleId: string }[]): Uint8Array {
  if (secrets.length === 0) return bytes;
  const forms = secrets.flatMap((s) => {
    const escaped = JSON.stringify(s.secret).slice(1, -1);
    return [s, { secret: escaped, ruleId: s.ruleId }, { secret: escaped.replaceAll("/", "\\/"), ruleId: s.ruleId }];
  });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const raw = Buffer.from(bytes).toString("latin1");
    return forms.some((f) => raw.includes(Buffer.from(f.secret).toString("latin1"))) ? WITHHELD : bytes;
  }
  const masked = maskText(text, forms);
  return Buffer.from(maskJsonAttachments(masked, secrets) ?? masked, "utf8");
}

/** A JSON body whose base64 attachments still carry a secret once the plain text is masked, masked inside them too. */
function maskJsonAttachments(text: string, secrets: readonly { secret: string; ruleId: string }[]): string | undefined {
  if (!text.includes("base64") && !/"(data|file_data)"\s*:/.test(text)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const out = maskValue(parsed, secrets);
  return out === parsed ? undefined : JSON.stringify(out);
}
