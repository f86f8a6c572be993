// The shape of gateway/, checked with TypeScript's own parser: no import cycles between files or between folders,
// and no long function on the request path (a newcomer should be able to read each step on one screen).
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GATEWAY = join(ROOT, "gateway");
/** Folders (and top-level files) a provider request passes through; CLI commands and startup are not. */
const REQUEST_PATH = ["app.ts", "pipeline", "http", "access", "identity", "dialects", "proxy", "formats", "stream", "providers", "pricing", "quotas", "guardrails", "webhooks", "routing", "websocket", "log-writer", "telemetry", "store"];
/** On those paths but run once, not per request: the rule catalog's compiler (per config), migrations (per database). */
const RUN_ONCE = ["guardrails/rules/compile.ts", "store/migrations"];
/** Lines of a function's body; "about 80" leaves room for a signature and a closing line. */
const MAX_FUNCTION_LINES = 80;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

const parsed = new Map(tsFiles(GATEWAY).map((file) => [file, ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true)]));
const rel = (file: string) => relative(GATEWAY, file).split(sep).join("/");
const folderOf = (file: string) => rel(dirname(file)) || ".";

/** Relative imports and re-exports, type-only ones included: a type import still ties two modules together. */
function importsOf(source: ts.SourceFile): string[] {
  const targets: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const spec = statement.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) continue;
    const target = resolve(dirname(source.fileName), spec.text).replace(/\.js$/, ".ts");
    if (target.startsWith(GATEWAY + sep)) targets.push(target);
  }
  return targets;
}

/** Strongly connected components with more than one member (Tarjan): each is a cycle. */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const members: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      members.push(w);
    } while (w !== v);
    if (members.length > 1) found.push(members.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function functionLengths(source: ts.SourceFile): { name: string; line: number; lines: number }[] {
  const out: { name: string; line: number; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const body = node.body as ts.Node;
      const start = source.getLineAndCharacterOfPosition(body.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(body.getEnd()).line;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : "(anonymous)";
      out.push({ name, line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

describe("gateway architecture", () => {
  const fileGraph = new Map([...parsed].map(([file, source]) => [file, new Set(importsOf(source))]));

  it("parses a real import graph (the check would pass vacuously on an empty one)", () => {
    assert.ok(parsed.size > 100, `only ${parsed.size} files found under gateway/`);
    assert.ok(fileGraph.get(join(GATEWAY, "app.ts"))!.size > 5, "app.ts imports nothing?");
    assert.deepEqual(cycles(new Map([["a", new Set(["b"])], ["b", new Set(["a"])]])), [["a", "b"]], "the cycle finder finds a two-file cycle");
  });

  it("has no import cycle between files", () => {
    assert.deepEqual(cycles(fileGraph).map((c) => c.map(rel)), []);
  });

  it("has no import cycle between folders (a sub-folder is a folder of its own)", () => {
    const folders = new Map<string, Set<string>>();
    for (const [file, targets] of fileGraph) {
      const from = folderOf(file);
      for (const target of targets) {
        const to = folderOf(target);
        if (to === from) continue;
        if (!folders.has(from)) folders.set(from, new Set());
        folders.get(from)!.add(to);
      }
    }
    const found = cycles(folders).map((members) =>
      members.map((from) => `${from} → ${[...(folders.get(from) ?? [])].filter((to) => members.includes(to)).join(", ")}`),
    );
    assert.deepEqual(found, []);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines on the request path`, () => {
    const under = (file: string, p: string) => rel(file) === p || rel(file).startsWith(`${p}/`);
    const onPath = (file: string) => !RUN_ONCE.some((p) => under(file, p)) && REQUEST_PATH.some((p) => under(file, p));
    const files = [...parsed.keys()].filter(onPath);
    assert.ok(files.length > 50, `only ${files.length} request-path files`);
    const long = files.flatMap((file) =>
      functionLengths(parsed.get(file)!)
        .filter((f) => f.lines > MAX_FUNCTION_LINES)
        .map((f) => `${rel(file)}:${f.line} ${f.name} (${f.lines} lines)`),
    );
    assert.deepEqual(long, []);
  });
});
