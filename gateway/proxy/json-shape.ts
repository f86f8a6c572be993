// Checks what JSON.parse does not: duplicate keys (which value an upstream keeps is its own choice, so a body with
// two "model"s could run one model while keyless prices the other) and nesting depth (recursion elsewhere overflows).
// One pass over the text of a document JSON.parse accepted; strings are skipped with indexOf.

/** Containers nested deeper than this are refused at the door; providers' real bodies nest about a dozen levels. */
export const MAX_JSON_DEPTH = 128;

export type JsonShapeProblem =
  | { readonly kind: "depth"; readonly path: string }
  | { readonly kind: "duplicate"; readonly path: string; readonly key: string };

interface Frame {
  /** Keys seen so far; null for an array. */
  readonly keys: Set<string> | null;
  /** The current key (object) or index (array), for the path. */
  at: string | number;
  /** An object's next string is a key. */
  expectKey: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;

/** `$.messages[0].content`; keys that are not identifiers are quoted. */
function pathOf(stack: readonly Frame[]): string {
  let out = "$";
  for (const f of stack) {
    if (typeof f.at === "number") out += `[${f.at}]`;
    else out += /^[A-Za-z_$][\w$]*$/.test(f.at) ? `.${f.at}` : `[${JSON.stringify(f.at.length > 64 ? `${f.at.slice(0, 64)}…` : f.at)}]`;
  }
  return out;
}

/** Index of the quote that ends the string opening at `open`, or -1 (not JSON: JSON.parse reports that). */
function stringEnd(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  while (q !== -1) {
    let slashes = 0;
    for (let i = q - 1; text.charCodeAt(i) === BACKSLASH; i--) slashes++;
    if (slashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return -1;
}

/** The first duplicate key (unless `keys` is false) or over-deep container in `text` (valid JSON), or null. */
export function jsonShapeProblem(text: string, maxDepth = MAX_JSON_DEPTH, keys = true): JsonShapeProblem | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (end === -1) return null;
      const top = stack[stack.length - 1];
      if (keys && top?.keys && top.expectKey) {
        const raw = text.slice(i + 1, end);
        // An escaped key is the same key as its plain spelling ("mod\u0065l" is "model").
        const key = raw.includes("\\") ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        top.at = key;
        if (top.keys.has(key)) return { kind: "duplicate", path: pathOf(stack), key };
        top.keys.add(key);
        top.expectKey = false;
      }
      i = end;
    } else if (c === 123 || c === 91) {
      // { [
      if (stack.length === maxDepth) return { kind: "depth", path: pathOf(stack) };
      stack.push(c === 123 ? { keys: new Set(), at: "", expectKey: true } : { keys: null, at: 0, expectKey: false });
    } else if (c === 125 || c === 93) {
      // } ]
      stack.pop();
    } else if (c === 44) {
      // ,
      const top = stack[stack.length - 1];
      if (top?.keys) top.expectKey = true;
      else if (top && typeof top.at === "number") top.at++;
    }
  }
  return null;
}

/** The refusal message for a problem, naming where it is. */
export function jsonShapeMessage(p: JsonShapeProblem, maxDepth = MAX_JSON_DEPTH): string {
  const at = p.path.length > 200 ? `${p.path.slice(0, 120)}…${p.path.slice(-60)}` : p.path;
  return p.kind === "depth"
    ? `request body nests JSON deeper than ${maxDepth} levels (at ${at})`
    : `request body has the key ${JSON.stringify(p.key.length > 64 ? `${p.key.slice(0, 64)}…` : p.key)} twice (at ${at}); keyless refuses duplicate keys because providers may read either one`;
}

/** Whether a parsed value nests containers deeper than `max`; iterative, since the value may be arbitrarily deep. */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: { readonly v: unknown; readonly depth: number }[] = [{ v: value, depth: 0 }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    if (typeof top.v !== "object" || top.v === null) continue;
    if (top.depth === max) return true;
    for (const x of Array.isArray(top.v) ? top.v : Object.values(top.v)) stack.push({ v: x, depth: top.depth + 1 });
  }
  return false;
}
