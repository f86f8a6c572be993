// Removes provider secrets from everything an upstream sends back (some providers echo the key in auth errors, and a
// hostile or broken upstream may echo it anywhere). A secret is found in every encoding the providers' wire formats
// use: raw, JSON-escaped per character (`\u002d`, `\/`, nested JSON-in-JSON with more backslashes), URL-encoded, and
// base64 (standard and URL alphabet, at each of the three byte alignments). Matching works on bytes so a stream can
// be scrubbed as it passes, holding back only a tail that could still become a secret.
import type { ResponseSummary, ToolCall } from "../formats/types.js";

const REDACTED = "[redacted]";
const REDACTED_BYTES = Buffer.from(REDACTED);

/** Secrets shorter than this would match by accident and cannot be meaningful keys. */
const MIN_SECRET = 8;
/** Longest backslash run before an escape: three levels of JSON nesting (`\`, `\\`, `\\\\`) and a literal `\\`. */
const MAX_BACKSLASHES = 8;
/** Bytes of the longest single-character encoding: backslashes, then `u` and four hex digits. */
const MAX_CHAR_ENCODING = MAX_BACKSLASHES + 5;

const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const U = 0x75;
const MISMATCH = -1;
/** The bytes ran out while they still looked like a secret. */
const PARTIAL = -2;

/** JSON's short escapes, by the character they stand for. */
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '"': '"', "\\": "\\", "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t" };

/** The ways one character of a secret can appear. */
interface CharForms {
  /** Its UTF-8 bytes. */
  readonly literal: Uint8Array;
  /** Lowercase hex digits of `\uXXXX` (absent past the BMP: keys are ASCII). */
  readonly hex: Uint8Array | null;
  readonly short: number | null;
  /** Lowercase hex digits of `%XX` (ASCII only). */
  readonly pct: Uint8Array | null;
}

/** A secret written character by character, each character in any of its forms. */
type Encoded = readonly CharForms[];

const lowerHex = (s: string) => Buffer.from(s.toLowerCase(), "latin1");

function charForms(ch: string): CharForms {
  const code = ch.charCodeAt(0);
  const short = SHORT_ESCAPES[ch];
  return {
    literal: Buffer.from(ch, "utf8"),
    hex: ch.length === 1 ? lowerHex(code.toString(16).padStart(4, "0")) : null,
    short: short === undefined ? null : short.charCodeAt(0),
    pct: code < 0x80 ? lowerHex(code.toString(16).padStart(2, "0")) : null,
  };
}

/**
 * The part of base64(secret) that does not depend on the bytes around it, for each alignment of the secret within a
 * 3-byte group: characters whose 6 bits all come from the secret.
 */
function base64Cores(secret: Buffer): string[] {
  const cores = new Set<string>();
  for (const pad of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(pad), secret]).toString("base64").replace(/=+$/, "");
    const first = Math.ceil((pad * 8) / 6);
    const last = Math.floor(((pad + secret.length) * 8) / 6);
    const core = encoded.slice(first, last);
    cores.add(core);
    cores.add(core.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return [...cores];
}

function isHexOf(b: number | undefined, lower: number): boolean {
  // ASCII letters differ from their capitals by 0x20 only; digits have no capitals.
  return b === lower || (lower >= 0x61 && b === lower - 0x20);
}

/** Matches `expected` at `at`: the end offset, MISMATCH, or PARTIAL when `buf` ends first. */
function matchBytes(buf: Uint8Array, at: number, expected: Uint8Array, caseFold: boolean): number {
  for (let i = 0; i < expected.length; i++) {
    if (at + i >= buf.length) return PARTIAL;
    const b = buf[at + i];
    if (caseFold ? !isHexOf(b, expected[i]!) : b !== expected[i]) return MISMATCH;
  }
  return at + expected.length;
}

function matchChar(buf: Uint8Array, at: number, f: CharForms): number {
  if (at >= buf.length) return PARTIAL;
  const b = buf[at]!;
  if (b === f.literal[0]) {
    const end = matchBytes(buf, at, f.literal, false);
    if (end !== MISMATCH) return end;
  }
  if (b === BACKSLASH) {
    let q = at;
    while (q < buf.length && buf[q] === BACKSLASH) q++;
    if (q - at > MAX_BACKSLASHES) return MISMATCH;
    if (q >= buf.length) return PARTIAL;
    if (buf[q] === f.short) return q + 1;
    if (buf[q] === U && f.hex) return matchBytes(buf, q + 1, f.hex, true);
    return MISMATCH;
  }
  if (b === PERCENT && f.pct) return matchBytes(buf, at + 1, f.pct, true);
  return MISMATCH;
}

function matchEncoded(buf: Uint8Array, at: number, chars: Encoded): number {
  let p = at;
  for (const f of chars) {
    // Most bytes of an echoed key are the key's own ASCII characters: no call for those.
    if (f.literal.length === 1 && buf[p] === f.literal[0]) p++;
    else if ((p = matchChar(buf, p, f)) < 0) return p;
  }
  return p;
}

/** Where secrets are in `buf`, and where a secret cut off by the end of `buf` might start (streams hold it back). */
interface Scan {
  readonly hits: readonly (readonly [number, number])[];
  readonly partialFrom: number | null;
}

export interface StreamScrubber {
  /** Scrubbed bytes that are safe to pass on; a tail that may be the start of a secret is kept for the next chunk. */
  push(chunk: Uint8Array): Uint8Array;
  /** The kept tail, scrubbed, at the end of the body. */
  end(): Uint8Array;
}

export interface Scrubber {
  /** Nothing to scrub (no secrets long enough): every method returns its input. */
  readonly empty: boolean;
  /** The most bytes a stream scrubber holds back: the longest encoding of a secret, less one. */
  readonly maxHold: number;
  /** Whether `buf` holds a secret in any encoding. */
  found(buf: Uint8Array): boolean;
  bytes(buf: Uint8Array): Uint8Array;
  text(s: string): string;
  stream(): StreamScrubber;
}

/** The encoded secrets by the byte they can start with, and the fixed strings (base64 cores) to find with indexOf. */
interface Needles {
  readonly byStart: ReadonlyMap<number, readonly Encoded[]>;
  readonly literals: readonly Buffer[];
}

/** Where the secrets are in `buf`; streaming, also where one may start that the next chunk would finish. */
function scan({ byStart, literals }: Needles, buf: Uint8Array, streaming: boolean): Scan {
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const hits: [number, number][] = [];
  /** Where a secret cut off by the end of `buf` may start. */
  const partials: number[] = [];
  for (const [b, candidates] of byStart) {
    for (let p = view.indexOf(b); p !== -1; p = view.indexOf(b, p + 1)) {
      // A match never starts inside a run of backslashes: it would leave half an escape behind.
      if (b === BACKSLASH && p > 0 && view[p - 1] === BACKSLASH) continue;
      let end = MISMATCH;
      for (const chars of candidates) {
        const m = matchEncoded(view, p, chars);
        if (m === PARTIAL) partials.push(p);
        else if (m > end) end = m;
      }
      if (end < 0) continue;
      // A secret right after an odd run of backslashes (`\n` + key starting with "n") takes the escape with it.
      let run = 0;
      while (p - run - 1 >= 0 && view[p - run - 1] === BACKSLASH) run++;
      hits.push([run % 2 === 1 && b !== BACKSLASH ? p - 1 : p, end]);
      p = end - 1;
    }
  }
  for (const needle of literals) {
    for (let at = view.indexOf(needle); at !== -1; at = view.indexOf(needle, at + needle.length)) hits.push([at, at + needle.length]);
    if (!streaming) continue;
    // A tail that is the start of the needle.
    for (let at = Math.max(0, view.length - needle.length + 1); at < view.length; at++) {
      if (view[at] === needle[0] && matchBytes(view, at, needle, false) === PARTIAL) partials.push(at);
    }
  }
  hits.sort((x, y) => x[0] - y[0] || y[1] - x[1]);
  // Overlapping hits merge; a possible secret inside a hit is no secret in waiting.
  const merged: [number, number][] = [];
  for (const hit of hits) {
    const last = merged[merged.length - 1];
    if (last && hit[0] < last[1]) last[1] = Math.max(last[1], hit[1]);
    else merged.push([hit[0], hit[1]]);
  }
  const hold = Math.min(...partials.filter((at) => !merged.some(([start, end]) => start <= at && at < end)));
  if (!streaming || hold === Infinity) return { hits: merged, partialFrom: null };
  return { hits: merged.filter(([start]) => start < hold), partialFrom: hold };
}

function replace(buf: Uint8Array, hits: Scan["hits"], upTo: number): Uint8Array {
  if (hits.length === 0) return upTo === buf.length ? buf : buf.subarray(0, upTo);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const [start, end] of hits) {
    parts.push(buf.subarray(from, start), REDACTED_BYTES);
    from = end;
  }
  parts.push(buf.subarray(from, upTo));
  return Buffer.concat(parts);
}

function buildScrubber(secrets: readonly string[]): Scrubber {
  const encoded: Encoded[] = [];
  /** Fixed strings (the base64 cores), found with Buffer.indexOf. */
  const literals: Buffer[] = [];
  let longest = 0;
  for (const secret of new Set(secrets)) {
    if (secret.length < MIN_SECRET) continue;
    const chars = Array.from(secret, charForms);
    encoded.push(chars);
    for (const core of base64Cores(Buffer.from(secret, "utf8"))) literals.push(Buffer.from(core, "latin1"));
    longest = Math.max(longest, chars.length * MAX_CHAR_ENCODING);
  }
  // The encoded secrets that can start with each byte; those bytes are found with indexOf (memchr), not a JS loop.
  const byStart = new Map<number, Encoded[]>();
  for (const chars of encoded) {
    const first = chars[0]!;
    for (const b of new Set([first.literal[0]!, BACKSLASH, ...(first.pct ? [PERCENT] : [])])) byStart.set(b, [...(byStart.get(b) ?? []), chars]);
  }

  const needles: Needles = { byStart, literals };
  const empty = encoded.length === 0;
  const bytes = (buf: Uint8Array): Uint8Array => (empty ? buf : replace(buf, scan(needles, buf, false).hits, buf.length));

  return {
    empty: empty,
    maxHold: Math.max(0, longest - 1),
    found: (buf) => !empty && scan(needles, buf, false).hits.length > 0,
    bytes,
    text(s) {
      if (empty) return s;
      const buf = Buffer.from(s, "utf8");
      const out = bytes(buf);
      return out === buf ? s : Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString("utf8");
    },
    stream() {
      let tail: Uint8Array | null = null;
      return {
        push(chunk) {
          if (empty) return chunk;
          const buf = tail ? Buffer.concat([tail, chunk]) : chunk;
          const { hits, partialFrom } = scan(needles, buf, true);
          const upTo = partialFrom ?? buf.length;
          // Copied: the upstream's chunk may be reused once this returns.
          tail = upTo < buf.length ? Uint8Array.prototype.slice.call(buf, upTo) : null;
          return replace(buf, hits, upTo);
        },
        end() {
          const rest = tail;
          tail = null;
          return rest ? bytes(rest) : new Uint8Array(0);
        },
      };
    },
  };
}

const cache = new Map<string, Scrubber>();
const CACHE_SIZE = 64;

/** The scrubber for a provider's secrets (cached: providers ask on every request, a rotating token makes a new one). */
export function scrubberFor(secrets: readonly string[]): Scrubber {
  const key = secrets.join("\u0000");
  let scrubber = cache.get(key);
  if (!scrubber) {
    scrubber = buildScrubber(secrets);
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
    cache.set(key, scrubber);
  }
  return scrubber;
}

/** Whether any string (or key) in a JSON-shaped value holds a secret; iterative, so any depth is fine. */
function holdsSecret(value: unknown, scrubber: Scrubber): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") {
      if (scrubber.text(v) !== v) return true;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === "object") {
      for (const [k, item] of Object.entries(v)) {
        if (scrubber.text(k) !== k) return true;
        stack.push(item);
      }
    }
  }
  return false;
}

function rebuilt(value: unknown, scrubber: Scrubber): unknown {
  if (typeof value === "string") return scrubber.text(value);
  if (Array.isArray(value)) return value.map((v) => rebuilt(v, scrubber));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrubber.text(k), rebuilt(v, scrubber)]));
  }
  return value;
}

/** Every string in a JSON-shaped value, scrubbed (parsed text has its escapes undone, so it is checked again). */
export function scrubValue(value: unknown, scrubber: Scrubber): unknown {
  if (!holdsSecret(value, scrubber)) return value;
  try {
    return rebuilt(value, scrubber);
  } catch {
    // Nested too deep to rebuild (RangeError): a value holding a secret is not kept at all.
    return REDACTED;
  }
}

/** What the store, hooks and webhooks keep of a response (tool calls, in-band errors, ids), scrubbed. */
export function scrubSummary(summary: ResponseSummary, scrubber: Scrubber): ResponseSummary {
  if (scrubber.empty) return summary;
  const toolCalls = summary.toolCalls.map(
    (call): ToolCall => ({
      ...call,
      id: scrubber.text(call.id),
      name: scrubber.text(call.name),
      ...(call.namespace === undefined ? {} : { namespace: scrubber.text(call.namespace) }),
      input: scrubValue(call.input, scrubber),
    }),
  );
  const text = (key: "model" | "responseId" | "stopReason" | "error") => (summary[key] === undefined ? {} : { [key]: scrubber.text(summary[key]) });
  return { ...summary, toolCalls, ...text("model"), ...text("responseId"), ...text("stopReason"), ...text("error") };
}
