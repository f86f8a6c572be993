// Codex code mode: the `exec` tool's input is JavaScript that calls nested tools as `tools.<name>(arg)`.
// Parse it with acorn and recover each call's argument when it is a literal (strings, template literals,
// object/array literals, `+` of strings, consts bound to literals). Anything else is unknown.
import { parse, type Node } from "acorn";

/** A nested tool call found in the source. `input` has unknown parts removed; `unknownArgs` says so. */
export interface CodeModeCall {
  /** Tool name, or undefined when the property is computed at run time (`tools[name](…)`). */
  readonly name: string | undefined;
  readonly input: unknown;
  readonly unknownArgs: boolean;
}

export interface CodeModeScan {
  readonly calls: CodeModeCall[];
  /** The source did not parse as a module or a script. */
  readonly parseError?: string;
}

interface Value {
  readonly v: unknown;
  readonly known: boolean;
}

type AnyObj = Node & Record<string, unknown>;

function isNode(x: unknown): x is AnyObj {
  return typeof x === "object" && x !== null && typeof (x as { type?: unknown }).type === "string";
}

function children(n: AnyObj): AnyObj[] {
  const out: AnyObj[] = [];
  for (const [k, v] of Object.entries(n)) {
    if (k === "loc" || k === "range") continue;
    if (Array.isArray(v)) for (const x of v) if (isNode(x)) out.push(x);
    if (isNode(v)) out.push(v);
  }
  return out;
}

function parseSource(src: string): { ast?: AnyObj; error?: string } {
  const base = { ecmaVersion: "latest", allowAwaitOutsideFunction: true, allowReturnOutsideFunction: true } as const;
  try {
    return { ast: parse(src, { ...base, sourceType: "module" }) as unknown as AnyObj };
  } catch {
    try {
      return { ast: parse(src, { ...base, sourceType: "script" }) as unknown as AnyObj };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
}

class Evaluator {
  private readonly consts = new Map<string, AnyObj>();
  private exprCount = 0;

  constructor(root: AnyObj) {
    const visit = (n: AnyObj): void => {
      if (n.type === "VariableDeclaration" && n.kind === "const") {
        for (const d of (n.declarations as AnyObj[]) ?? []) {
          const id = d.id as AnyObj;
          if (id.type === "Identifier" && isNode(d.init)) this.consts.set(id.name as string, d.init);
        }
      }
      children(n).forEach(visit);
    };
    visit(root);
  }

  /** Template expressions become `${__jsN}` so shell analysis sees an unknown word, not a literal. */
  value(n: AnyObj, depth = 0): Value {
    if (depth > 20) return { v: undefined, known: false };
    switch (n.type) {
      case "Literal":
        return { v: n.value, known: true };
      case "TemplateLiteral": {
        const quasis = n.quasis as AnyObj[];
        const exprs = n.expressions as AnyObj[];
        let s = "";
        let known = true;
        quasis.forEach((q, i) => {
          s += ((q.value as { cooked?: string | null }).cooked ?? "") as string;
          const e = exprs[i];
          if (!e) return;
          const ev = this.value(e, depth + 1);
          if (ev.known && (typeof ev.v === "string" || typeof ev.v === "number")) s += String(ev.v);
          else {
            known = false;
            s += `\${__js${this.exprCount++}}`;
          }
        });
        return { v: s, known };
      }
      case "BinaryExpression": {
        if (n.operator !== "+") return { v: undefined, known: false };
        const l = this.value(n.left as AnyObj, depth + 1);
        const r = this.value(n.right as AnyObj, depth + 1);
        const str = (x: Value): string => (typeof x.v === "string" || typeof x.v === "number" ? String(x.v) : `\${__js${this.exprCount++}}`);
        return { v: str(l) + str(r), known: l.known && r.known };
      }
      case "ObjectExpression": {
        const obj: Record<string, unknown> = {};
        let known = true;
        for (const p of n.properties as AnyObj[]) {
          const key = p.key as AnyObj | undefined;
          const name = p.type === "Property" && !p.computed && key ? (key.type === "Identifier" ? key.name : key.value) : undefined;
          if (typeof name !== "string" && typeof name !== "number") {
            known = false;
            continue;
          }
          const val = this.value(p.value as AnyObj, depth + 1);
          known &&= val.known;
          if (val.v !== undefined) obj[String(name)] = val.v;
        }
        return { v: obj, known };
      }
      case "ArrayExpression": {
        const items = (n.elements as (AnyObj | null)[]).map((e) => (e && e.type !== "SpreadElement" ? this.value(e, depth + 1) : { v: undefined, known: false }));
        return { v: items.map((i) => i.v), known: items.every((i) => i.known) };
      }
      case "Identifier": {
        const init = this.consts.get(n.name as string);
        return init ? this.value(init, depth + 1) : { v: undefined, known: false };
      }
      case "AwaitExpression":
      case "ParenthesizedExpression":
        return this.value((n.argument ?? n.expression) as AnyObj, depth + 1);
      default:
        return { v: undefined, known: false };
    }
  }
}

/** The `tools` member being called, if the callee is `tools.x`, `tools["x"]` or `tools?.x`. */
function toolCallee(callee: AnyObj): { name: string | undefined } | undefined {
  const m = callee.type === "ChainExpression" ? (callee.expression as AnyObj) : callee;
  if (m.type !== "MemberExpression") return undefined;
  const obj = m.object as AnyObj;
  if (obj.type !== "Identifier" || obj.name !== "tools") return undefined;
  const prop = m.property as AnyObj;
  if (!m.computed && prop.type === "Identifier") return { name: prop.name as string };
  if (prop.type === "Literal" && typeof prop.value === "string") return { name: prop.value };
  return { name: undefined };
}

export function scanCodeMode(source: string): CodeModeScan {
  const { ast, error } = parseSource(source);
  if (!ast) return { calls: [], parseError: error ?? "unparseable" };
  const ev = new Evaluator(ast);
  const calls: CodeModeCall[] = [];
  const visit = (n: AnyObj): void => {
    if (n.type === "CallExpression") {
      const target = toolCallee(n.callee as AnyObj);
      if (target) {
        const args = n.arguments as AnyObj[];
        const first = args[0];
        const val = first ? ev.value(first) : { v: {}, known: true };
        calls.push({ name: target.name, input: val.v, unknownArgs: !val.known || target.name === undefined });
      }
    }
    children(n).forEach(visit);
  };
  visit(ast);
  return { calls };
}
