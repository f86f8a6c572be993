// A fake GitHub REST API on loopback for the operations keyless calls. Every request body and every response it sends
// is validated against the OpenAPI extract (github-openapi-extract.json); requests are recorded for assertions.
// Auth is checked like GitHub does: an RS256 app JWT (iss = app id) for /app and /repos/…/installation, an installation
// token it issued (`token ghs_…`) for the repository endpoints.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { Hono, type Context } from "hono";
import { importSPKI, jwtVerify } from "jose";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const extract = JSON.parse(readFileSync(new URL("./github-openapi-extract.json", import.meta.url), "utf8")) as {
  source: string;
  operations: Record<string, { method: string; path: string; request: Json; request_required: boolean; responses: Record<string, Json> }>;
  components: { schemas: Record<string, Json> };
};

/** OpenAPI 3.0 `nullable: true` → JSON Schema `anyOf [.., null]` (ajv refuses nullable without type). */
function toJsonSchema(node: Json): Json {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== "object") return node;
  const out: Obj = {};
  for (const [k, v] of Object.entries(node)) if (k !== "nullable") out[k] = toJsonSchema(v);
  return node.nullable === true ? { anyOf: [out, { type: "null" }] } : out;
}

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv) => Ajv };
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(toJsonSchema(extract as unknown as Json) as object, "gh");

const validators = new Map<string, ValidateFunction>();
function validator(pointer: string): ValidateFunction {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.getSchema(`gh#${pointer}`);
    if (!v) throw new Error(`no schema at ${pointer}`);
    validators.set(pointer, v);
  }
  return v;
}

const opPointer = (op: string) => `/operations/${op.replace("/", "~1")}`;

export function validateRequest(op: string, body: unknown): ErrorObject[] {
  const v = validator(`${opPointer(op)}/request`);
  return v(body) ? [] : [...(v.errors ?? [])];
}

export function validateResponse(op: string, status: number, body: unknown): ErrorObject[] {
  const v = validator(`${opPointer(op)}/responses/${status}`);
  return v(body) ? [] : [...(v.errors ?? [])];
}

/** A minimal value satisfying a schema: required properties only, nullable → null, first enum/anyOf branch. */
function sample(schema: Json, overrides: Json = null): Json {
  const s = resolveRef(schema) as Obj;
  if (overrides !== null && (typeof overrides !== "object" || Array.isArray(overrides))) return overrides;
  if (Array.isArray(s.allOf) && s.allOf.length === 1) return sample(s.allOf[0]!, overrides);
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf)) return sample(((s.anyOf ?? s.oneOf) as Json[])[0]!, overrides);
  if (s.nullable === true && overrides === null) return null;
  if (Array.isArray(s.enum)) return s.enum[0]!;
  if (s.type === "object" || s.properties) {
    const props = (s.properties ?? {}) as Obj;
    const given = (overrides ?? {}) as Obj;
    const obj: Obj = {};
    for (const key of (s.required ?? []) as string[]) obj[key] = sample(props[key] ?? {}, given[key] ?? null);
    for (const [k, v] of Object.entries(given)) obj[k] = sample(props[k] ?? {}, v);
    return obj;
  }
  if (overrides !== null) return overrides;
  if (s.type === "array") return [];
  if (s.type === "integer" || s.type === "number") return 1;
  if (s.type === "boolean") return false;
  if (s.type === "string") {
    return s.format === "date-time" ? "2026-11-20T10:00:00Z" : s.format === "uri" ? "https://github.example/x" : s.format === "email" ? "x@example.com" : "x";
  }
  return null;
}

function resolveRef(schema: Json): Json {
  let s = schema;
  while (s && typeof s === "object" && !Array.isArray(s) && typeof s.$ref === "string") {
    s = extract.components.schemas[s.$ref.slice("#/components/schemas/".length)] ?? {};
  }
  return s;
}

export function sampleComponent(name: string, overrides: Json = null): Json {
  return sample({ $ref: `#/components/schemas/${name}` }, overrides);
}

export interface RecordedRequest {
  readonly op: string;
  readonly method: string;
  readonly path: string;
  readonly auth: string;
  readonly body: unknown;
  readonly status: number;
  /** Schema violations in the request body (empty when valid). */
  readonly errors: readonly string[];
}

export interface FakePull {
  readonly number: number;
  readonly headSha: string;
  readonly headRef?: string;
  readonly state?: "open" | "closed";
}

export interface FakeRepo {
  readonly owner: string;
  readonly name: string;
  readonly id: number;
  /** Installation id; absent: the app is not installed there. */
  readonly installation?: number;
  readonly pulls?: readonly FakePull[];
}

export interface FakeGitHub {
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly checkRuns: Map<number, Obj>;
  /** While > 0, every request is answered with `outageStatus` (and the counter decremented). Infinity: until reset. */
  outage: number;
  outageStatus: number;
  /** Invalid request bodies and responses seen so far, as "op: message" (tests assert it stays empty). */
  readonly violations: string[];
  close(): Promise<void>;
}

export async function startFakeGitHub(opts: { appId: string; publicKeyPem: string; repos: readonly FakeRepo[] }): Promise<FakeGitHub> {
  const appKey = await importSPKI(opts.publicKeyPem, "RS256");
  const tokens = new Map<string, number>(); // installation token → installation id
  const checkRuns = new Map<number, Obj>();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  let nextCheckRun = 4_000_000_001;
  const repoOf = (owner: string, name: string) =>
    opts.repos.find((r) => r.owner.toLowerCase() === owner.toLowerCase() && r.name.toLowerCase() === name.toLowerCase());

  const app = new Hono();
  const self: FakeGitHub = {
    url: "",
    requests,
    checkRuns,
    outage: 0,
    outageStatus: 503,
    violations,
    close: async () => {},
  };

  /** Wraps a handler: outage simulation, auth, body validation, response validation, recording. */
  function route(op: string, auth: "app" | "installation", handler: (c: Context, body: Obj) => Promise<[number, Json]> | [number, Json]) {
    return async (c: Context) => {
      const raw = c.req.method === "GET" ? null : await c.req.text();
      let body: unknown = null;
      try {
        body = raw ? JSON.parse(raw) : null;
      } catch {
        body = raw;
      }
      const record = (status: number, errors: string[] = []) =>
        requests.push({ op, method: c.req.method, path: c.req.path, auth: c.req.header("authorization") ?? "", body, status, errors });
      if (self.outage > 0) {
        self.outage--;
        record(self.outageStatus);
        return c.json({ message: "Service unavailable (fake outage)" }, self.outageStatus as 503);
      }
      const denied = await checkAuth(c, auth);
      if (denied) {
        record(401);
        return c.json({ message: denied, documentation_url: "https://docs.github.com/rest" }, 401);
      }
      const spec = extract.operations[op];
      const checked = spec?.request && (body !== null || spec.request_required);
      const errors = checked ? validateRequest(op, body).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`) : [];
      if (errors.length > 0) {
        violations.push(...errors.map((e) => `${op} request: ${e}`));
        record(422, errors);
        return c.json({ message: "Invalid request.", errors, documentation_url: "https://docs.github.com/rest" }, 422);
      }
      const [status, response] = await handler(c, (body ?? {}) as Obj);
      const responseErrors = validateResponse(op, status, response);
      if (responseErrors.length > 0) violations.push(...responseErrors.map((e) => `${op} response ${status}: ${e.instancePath} ${e.message ?? ""}`));
      record(status);
      return c.json(response as object, status as 200);
    };
  }

  async function checkAuth(c: Context, kind: "app" | "installation"): Promise<string | null> {
    const header = c.req.header("authorization") ?? "";
    if (kind === "app") {
      const m = /^bearer (.+)$/i.exec(header);
      if (!m) return "A JSON web token could not be decoded";
      try {
        const { payload } = await jwtVerify(m[1]!, appKey, { algorithms: ["RS256"] });
        if (String(payload.iss) !== opts.appId) return `'Issuer' claim ('iss') must be the app id ${opts.appId}`;
        if ((payload.exp ?? 0) - (payload.iat ?? 0) > 600) return "'Expiration time' claim ('exp') is too far in the future";
        return null;
      } catch (err) {
        return `A JSON web token could not be verified: ${(err as Error).message}`;
      }
    }
    const m = /^token (ghs_[A-Za-z0-9]+)$/.exec(header);
    const installation = m ? tokens.get(m[1]!) : undefined;
    if (installation === undefined) return "Bad credentials";
    const repo = repoOf(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
    if (repo && repo.installation !== installation) return "Resource not accessible by integration";
    return null;
  }

  const notFound = (): [number, Json] => [404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" }];

  app.get(
    "/repos/:owner/:repo/installation",
    route("apps/get-repo-installation", "app", (c) => {
      const repo = repoOf(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
      if (!repo || repo.installation === undefined) return notFound();
      return [
        200,
        sampleComponent("installation", {
          id: repo.installation,
          app_id: Number(opts.appId),
          app_slug: "keyless",
          target_id: 4567890,
          target_type: "Organization",
          repository_selection: "selected",
          access_tokens_url: `${self.url}/app/installations/${repo.installation}/access_tokens`,
          html_url: `https://github.com/organizations/${repo.owner}/settings/installations/${repo.installation}`,
          repositories_url: `${self.url}/installation/repositories`,
          account: { login: repo.owner, id: 4567890, type: "Organization" },
          events: ["check_run"],
          permissions: { checks: "write", metadata: "read", pull_requests: "read" },
        }),
      ];
    }),
  );

  app.post(
    "/app/installations/:installation_id/access_tokens",
    route("apps/create-installation-access-token", "app", (c) => {
      const id = Number(c.req.param("installation_id"));
      if (!opts.repos.some((r) => r.installation === id)) return notFound();
      const token = `ghs_${randomBytes(18).toString("hex")}`;
      tokens.set(token, id);
      return [201, sampleComponent("installation-token", { token, expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z") })];
    }),
  );

  const checkRunJson = (repo: FakeRepo, run: Obj): Obj =>
    sampleComponent("check-run", {
      ...run,
      url: `${self.url}/repos/${repo.owner}/${repo.name}/check-runs/${String(run.id)}`,
      html_url: `https://github.com/${repo.owner}/${repo.name}/runs/${String(run.id)}`,
      node_id: `CR_${String(run.id)}`,
      external_id: (run.external_id as string | undefined) ?? "",
      details_url: (run.details_url as string | undefined) ?? null,
      started_at: (run.started_at as string | undefined) ?? null,
      completed_at: (run.completed_at as string | undefined) ?? null,
      conclusion: (run.conclusion as string | undefined) ?? null,
      output: { title: null, summary: null, text: null, annotations_count: 0, annotations_url: "https://github.example/a", ...((run.output as Obj | undefined) ?? {}) },
      check_suite: { id: 1 },
      app: null,
      pull_requests: [],
    }) as Obj;

  app.post(
    "/repos/:owner/:repo/check-runs",
    route("checks/create", "installation", (c, body) => {
      const repo = repoOf(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
      if (!repo) return notFound();
      const id = nextCheckRun++;
      const run: Obj = { ...body, id, status: body.conclusion ? "completed" : ((body.status as string | undefined) ?? "queued") };
      checkRuns.set(id, run);
      return [201, checkRunJson(repo, run)];
    }),
  );

  app.patch(
    "/repos/:owner/:repo/check-runs/:check_run_id",
    route("checks/update", "installation", (c, body) => {
      const repo = repoOf(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
      const run = checkRuns.get(Number(c.req.param("check_run_id")));
      if (!repo || !run) return notFound();
      const output = body.output ? { ...((run.output as Obj | undefined) ?? {}), ...(body.output as Obj) } : run.output;
      Object.assign(run, body, output ? { output } : {});
      if (body.conclusion) run.status = "completed";
      return [200, checkRunJson(repo, run)];
    }),
  );

  app.get(
    "/repos/:owner/:repo/pulls/:pull_number",
    route("pulls/get", "installation", (c) => {
      const repo = repoOf(c.req.param("owner") ?? "", c.req.param("repo") ?? "");
      const pull = repo?.pulls?.find((p) => p.number === Number(c.req.param("pull_number")));
      if (!repo || !pull) return notFound();
      const repoJson = { id: repo.id, name: repo.name, full_name: `${repo.owner}/${repo.name}`, owner: { login: repo.owner } };
      return [
        200,
        sampleComponent("pull-request", {
          number: pull.number,
          state: pull.state ?? "open",
          title: `PR ${pull.number}`,
          html_url: `https://github.com/${repo.owner}/${repo.name}/pull/${pull.number}`,
          head: { sha: pull.headSha, ref: pull.headRef ?? "feature", label: `${repo.owner}:${pull.headRef ?? "feature"}`, repo: repoJson, user: { login: repo.owner } },
          base: { sha: "3333333333333333333333333333333333333333", ref: "main", label: `${repo.owner}:main`, repo: repoJson, user: { login: repo.owner } },
        }),
      ];
    }),
  );

  app.notFound((c) => {
    violations.push(`unexpected ${c.req.method} ${c.req.path}`);
    return c.json({ message: "Not Found" }, 404);
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  (self as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self.close = () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return self;
}

export const OPENAPI_SOURCE = extract.source;
