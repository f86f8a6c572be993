// Static evaluation of the tiny programs used to hide payloads: echo/printf of literals, base64 -d, xxd -r -p, rev.
import type { ParsedScript } from "unbash";
import type { Budget } from "./budget.js";
import { basename } from "./unwrap.js";
import { evalWord, type Env, type SubResolver, type VarValue } from "./words.js";
import type { Marker } from "./types.js";

const MAX_PAYLOAD = 64 * 1024;

/** Printable text (allowing common whitespace); a decoded payload that is binary is not a script. */
function printable(s: string): boolean {
  return s.length <= MAX_PAYLOAD && !/[\x00-\x08\x0e-\x1f\x7f\ufffd]/.test(s);
}

export function decodeBase64(s: string): string | undefined {
  const compact = s.replace(/\s+/g, "");
  if (compact === "" || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) return undefined;
  const out = Buffer.from(compact, "base64").toString("utf8");
  return printable(out) ? out : undefined;
}

export function decodeHex(s: string): string | undefined {
  const compact = s.replace(/\s+/g, "");
  if (compact === "" || compact.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(compact)) return undefined;
  const out = Buffer.from(compact, "hex").toString("utf8");
  return printable(out) ? out : undefined;
}

/** Backslash escapes as understood by printf's format and `echo -e`. */
export function unescapeC(s: string): { text: string; escaped: boolean } {
  let escaped = false;
  const text = s.replace(/\\(x[0-9a-fA-F]{1,2}|0?[0-7]{1,3}|u[0-9a-fA-F]{4}|[abefnrtv\\"'])/g, (_m, e: string) => {
    escaped ||= e[0] === "x" || /^[0-7u]/.test(e);
    switch (e[0]) {
      case "x":
        return String.fromCharCode(parseInt(e.slice(1), 16));
      case "u":
        return String.fromCharCode(parseInt(e.slice(1), 16));
      case "a":
        return "\x07";
      case "b":
        return "\b";
      case "e":
        return "\x1b";
      case "f":
        return "\f";
      case "n":
        return "\n";
      case "r":
        return "\r";
      case "t":
        return "\t";
      case "v":
        return "\v";
      case "\\":
      case '"':
      case "'":
        return e;
      default:
        return String.fromCharCode(parseInt(e, 8));
    }
  });
  return { text, escaped };
}

/** printf FORMAT ARGS… for %s/%b/%% only; anything else is not evaluated. */
export function printfOutput(format: string, args: readonly string[]): { text: string; escaped: boolean } | undefined {
  const { text: fmt, escaped } = unescapeC(format);
  if (/%[^sbd%]/.test(fmt)) return undefined;
  let i = 0;
  const once = (): string =>
    fmt.replace(/%([sbd%])/g, (_m, spec: string) => {
      if (spec === "%") return "%";
      const a = args[i++] ?? "";
      return spec === "b" ? unescapeC(a).text : a;
    });
  let out = once();
  // printf reuses the format while arguments remain (a long format times many arguments is not a payload).
  while (i > 0 && i < args.length && out.length <= MAX_PAYLOAD) out += once();
  return out.length <= MAX_PAYLOAD ? { text: out, escaped } : undefined;
}

/** Output of one pipeline stage when it is a known text filter, given its (known) stdin. */
export function staticStage(name: string, args: readonly string[], stdin: VarValue | undefined): VarValue | undefined {
  const markers = (m: Marker | undefined): Marker[] => [...(stdin?.markers ?? []), ...(m ? [m] : [])];
  switch (name) {
    // A fresh temporary file or directory: its name is unknown but its place is not (never home, never the repository).
    case "mktemp":
      return { value: "$TMPDIR/tmp.XXXXXXXXXX\n", markers: [] };
    case "echo": {
      let i = 0;
      let newline = true;
      let interpret = false;
      for (; i < args.length && /^-[neE]+$/.test(args[i] ?? ""); i++) {
        const f = args[i] ?? "";
        if (f.includes("n")) newline = false;
        if (f.includes("e")) interpret = true;
      }
      const raw = args.slice(i).join(" ");
      const { text, escaped } = interpret ? unescapeC(raw) : { text: raw, escaped: false };
      return { value: text + (newline ? "\n" : ""), markers: escaped ? ["printf_escape"] : [] };
    }
    case "printf": {
      const [fmt, ...rest] = args[0] === "--" ? args.slice(1) : args;
      if (fmt === undefined || fmt.startsWith("-")) return undefined;
      const out = printfOutput(fmt, rest);
      return out ? { value: out.text, markers: out.escaped ? ["printf_escape"] : [] } : undefined;
    }
    case "cat":
      return args.length === 0 || (args.length === 1 && args[0] === "-") ? stdin : undefined;
    case "base64": {
      if (!stdin || !args.some((a) => a === "-d" || a === "--decode" || a === "-D" || /^-[a-zA-Z]*d/.test(a))) {
        return undefined;
      }
      const v = decodeBase64(stdin.value);
      return v === undefined ? undefined : { value: v, markers: markers("base64") };
    }
    case "xxd": {
      if (!stdin || !args.some((a) => /^-[a-z]*r/.test(a))) return undefined;
      const v = decodeHex(stdin.value);
      return v === undefined ? undefined : { value: v, markers: markers("hex") };
    }
    case "rev":
      if (!stdin || args.length > 0) return undefined;
      return {
        value: stdin.value
          .split("\n")
          .map((l) => [...l].reverse().join(""))
          .join("\n"),
        markers: markers(undefined),
      };
    default:
      return undefined;
  }
}

/** Output of a `$(echo … | base64 -d)`-style program (one pipeline of known filters), without side effects. */
export function staticProgram(script: ParsedScript, env: Env, resolve: SubResolver, budget: Budget): VarValue | undefined {
  const st = script.commands.length === 1 ? script.commands[0]?.command : undefined;
  if (!st) return undefined;
  const stages = st.type === "Pipeline" ? st.commands : [st];
  let out: VarValue | undefined;
  for (const stage of stages) {
    if (stage.type !== "Command" || !stage.name) return undefined;
    const fields: string[] = [];
    for (const w of [stage.name, ...stage.suffix]) {
      if (w.type === "Assignment") return undefined;
      if (w.type !== "Word") continue;
      const v = evalWord(w, env, resolve, budget);
      if (!v.known) return undefined;
      fields.push(...v.fields);
    }
    let stdin = out;
    for (const r of stage.redirects) {
      if (r.type === "HereString" && r.target) stdin = { value: `${evalWord(r.target, env, resolve, budget).value}\n`, markers: [] };
      if (r.type === "HereDoc") stdin = { value: r.body.text, markers: [] };
    }
    out = staticStage(basename(fields[0] ?? ""), fields.slice(1), stdin);
    if (!out || !budget.fits(out.value.length)) return undefined;
    budget.spend(out.value.length);
  }
  return out;
}
