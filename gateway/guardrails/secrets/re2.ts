// Go RE2 patterns (gitleaks' rules) as JavaScript regular expressions. RE2 scopes flags to groups (`(?i)` for the rest
// of a group, `(?i:…)`, `(?-i:…)`, `(?s:…)`), which Node 20's RegExp cannot, so case-insensitive parts are spelled
// out (`k` → `[kK]`) and dot-all dots become `[\s\S]`. Names of groups are dropped (numbers stay the same; JS refuses
// a name used twice). Anything this does not know is an error, never a silently different pattern.

interface Flags {
  readonly i: boolean;
  readonly s: boolean;
}

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: "a-zA-Z0-9",
  alpha: "a-zA-Z",
  digit: "0-9",
  lower: "a-z",
  upper: "A-Z",
  space: "\\s",
  xdigit: "0-9A-Fa-f",
  punct: "!-\\/:-@\\[-`{-~",
  word: "\\w",
};

const isLetter = (c: string) => /^[a-zA-Z]$/.test(c);
const swapCase = (c: string) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

function parseFlags(spec: string, base: Flags): Flags {
  let { i, s } = base;
  let on = true;
  for (const c of spec) {
    if (c === "-") on = false;
    else if (c === "i") i = on;
    else if (c === "s") s = on;
    else if (c !== "U" && c !== "m") throw new Error(`unsupported RE2 flag "${c}"`);
    else if (on) throw new Error(`unsupported RE2 flag "${c}"`);
  }
  return { i, s };
}

/** A class body `[…]` from `at` (just past `[`): its JS text and where it ended. */
function translateClass(p: string, at: number, flags: Flags): { text: string; end: number } {
  let i = at;
  let out = "";
  const extra: string[] = [];
  if (p[i] === "^") {
    out += "^";
    i++;
  }
  let first = true;
  while (i < p.length && (p[i] !== "]" || first)) {
    first = false;
    if (p.startsWith("[:", i)) {
      const close = p.indexOf(":]", i + 2);
      const name = close > 0 ? p.slice(i + 2, close) : "";
      const cls = POSIX_CLASSES[name];
      if (cls === undefined) throw new Error(`unsupported POSIX class "${name}"`);
      out += cls;
      i = close + 2;
      continue;
    }
    if (p[i] === "\\") {
      out += p.slice(i, i + 2);
      if (p[i + 1] === "x") {
        out += p.slice(i + 2, i + 4);
        i += 2;
      }
      i += 2;
      continue;
    }
    const c = p[i] ?? "";
    if (p[i + 1] === "-" && p[i + 2] !== undefined && p[i + 2] !== "]") {
      const to = p[i + 2] ?? "";
      out += `${c}-${to}`;
      if (flags.i && isLetter(c) && isLetter(to)) extra.push(`${swapCase(c)}-${swapCase(to)}`);
      i += 3;
      continue;
    }
    out += c === "[" ? "\\[" : c;
    if (flags.i && isLetter(c)) extra.push(swapCase(c));
    i++;
  }
  if (p[i] !== "]") throw new Error("unterminated character class");
  // Added cases go first: after a trailing `-` they would make a range.
  const negated = out.startsWith("^");
  return { text: `[${negated ? "^" : ""}${extra.join("")}${negated ? out.slice(1) : out}]`, end: i + 1 };
}

/** The JavaScript source for an RE2 pattern (use without the `i`, `m`, `s` and `u` flags). */
export function re2ToJs(pattern: string): string {
  const stack: Flags[] = [];
  let flags: Flags = { i: false, s: false };
  let out = "";
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] ?? "";
    if (c === "\\") {
      const e = pattern[i + 1] ?? "";
      if (e === "z") out += "$";
      else if (e === "A") out += "^";
      else if (e === "x") {
        out += pattern.slice(i, i + 4);
        i += 2;
      } else if (/[pPQE]/.test(e)) throw new Error(`unsupported RE2 escape "\\${e}"`);
      else out += `\\${e}`;
      i += 2;
    } else if (c === "[") {
      const cls = translateClass(pattern, i + 1, flags);
      out += cls.text;
      i = cls.end;
    } else if (c === "(") {
      const rest = pattern.slice(i);
      const setter = /^\(\?([a-zA-Z-]+)\)/.exec(rest);
      const scoped = /^\(\?([a-zA-Z-]*):/.exec(rest);
      const named = /^\(\?P?<(\w+)>/.exec(rest);
      if (setter) {
        flags = parseFlags(setter[1] ?? "", flags);
        i += setter[0].length;
        continue;
      }
      stack.push(flags);
      if (scoped) {
        flags = parseFlags(scoped[1] ?? "", flags);
        out += "(?:";
        i += scoped[0].length;
      } else if (named) {
        out += "(";
        i += named[0].length;
      } else if (rest.startsWith("(?")) {
        throw new Error(`unsupported RE2 group "${rest.slice(0, 4)}"`);
      } else {
        out += "(";
        i++;
      }
    } else if (c === ")") {
      const outer = stack.pop();
      if (outer === undefined) throw new Error("unbalanced parenthesis");
      flags = outer;
      out += ")";
      i++;
    } else if (c === ".") {
      out += flags.s ? "[\\s\\S]" : "[^\\n]";
      i++;
    } else if (c === "{" && /^\{\d*(,\d*)?\}/.test(pattern.slice(i))) {
      const q = /^\{\d*(,\d*)?\}/.exec(pattern.slice(i))?.[0] ?? "";
      out += q;
      i += q.length;
    } else {
      out += flags.i && isLetter(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : /[{}\]\/]/.test(c) ? `\\${c}` : c;
      i++;
    }
  }
  if (stack.length > 0) throw new Error("unbalanced parenthesis");
  return out;
}
