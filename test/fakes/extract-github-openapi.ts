// Regenerates github-openapi-extract.json: the request and response schemas of the few GitHub operations keyless
// calls, with the component schemas they reference. @octokit/openapi is ~385 MB, so it stays out of package.json:
//   mkdir /tmp/oa && cd /tmp/oa && npm init -y && npm i @octokit/openapi
//   npx tsx test/fakes/extract-github-openapi.ts /tmp/oa/node_modules/@octokit/openapi
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const OPERATIONS = [
  "apps/get-repo-installation",
  "apps/create-installation-access-token",
  "checks/create",
  "checks/update",
  "pulls/get",
] as const;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const pkgDir = process.argv[2];
if (!pkgDir) throw new Error("usage: extract-github-openapi.ts <path to node_modules/@octokit/openapi>");
const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string };
const spec = JSON.parse(readFileSync(join(pkgDir, "generated/api.github.com.json"), "utf8")) as Obj;

function resolve(ref: string): Json {
  const parts = ref.replace(/^#\//, "").split("/");
  let node: Json = spec;
  for (const p of parts) node = (node as Obj)[p.replaceAll("~1", "/").replaceAll("~0", "~")] ?? null;
  return node;
}

/** Collects every "#/components/schemas/X" reachable from a node. */
function collectRefs(node: Json, into: Set<string>): void {
  if (Array.isArray(node)) for (const n of node) collectRefs(n, into);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/") && !into.has(v)) {
        into.add(v);
        collectRefs(resolve(v), into);
      } else collectRefs(v, into);
    }
  }
}

const operations: Obj = {};
const refs = new Set<string>();
for (const [path, item] of Object.entries(spec.paths as Obj)) {
  for (const [method, opJson] of Object.entries(item as Obj)) {
    const op = opJson as Obj;
    if (!OPERATIONS.includes(op.operationId as (typeof OPERATIONS)[number])) continue;
    const params = ((op.parameters ?? []) as Obj[]).map((p) => (typeof p.$ref === "string" ? (resolve(p.$ref) as Obj) : p));
    const body = (op.requestBody as Obj | undefined)?.content as Obj | undefined;
    const responses: Obj = {};
    for (const [status, r] of Object.entries(op.responses as Obj)) {
      const resp = (typeof (r as Obj).$ref === "string" ? resolve((r as Obj).$ref as string) : r) as Obj;
      const schema = ((resp.content as Obj | undefined)?.["application/json"] as Obj | undefined)?.schema;
      if (schema !== undefined) responses[status] = schema;
    }
    operations[op.operationId as string] = {
      method: method.toUpperCase(),
      path,
      parameters: params.map((p): Json => ({ name: p.name ?? null, in: p.in ?? null, required: p.required ?? false, schema: p.schema ?? null })),
      request: ((body?.["application/json"] as Obj | undefined)?.schema ?? null) as Json,
      request_required: ((op.requestBody as Obj | undefined)?.required ?? false) as Json,
      responses,
    };
    collectRefs(operations[op.operationId as string]!, refs);
  }
}

const schemas: Obj = {};
for (const ref of [...refs].sort()) schemas[ref.slice("#/components/schemas/".length)] = resolve(ref);
const missing = OPERATIONS.filter((id) => !(id in operations));
if (missing.length > 0) throw new Error(`operations not found: ${missing.join(", ")}`);

const out = {
  source: `@octokit/openapi ${pkg.version}, generated/api.github.com.json (OpenAPI ${String(spec.openapi)}, GitHub ${String((spec.info as Obj).version)})`,
  operations,
  components: { schemas },
};
writeFileSync(new URL("./github-openapi-extract.json", import.meta.url), JSON.stringify(out, null, 1) + "\n");
console.log(`${Object.keys(operations).length} operations, ${Object.keys(schemas).length} component schemas`);
