// What every real-CLI test shares: a gateway whose 127.0.0.1 callers are a tagged CI node (the CLI's connections come
// from there), an admin peer to read the tool-call API, and the checks on keys, log rows and tool-call rows.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PLACEHOLDER_KEY } from "../../action/agents.js";
import type { RequestRow } from "../../gateway/store/requests.js";
import type { ToolCallRow } from "../../gateway/store/tool-calls.js";
import { type Harness, KEYS, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import type { CliRun, Job } from "./cli.js";

export const CI_ADDRESS = "127.0.0.1";
export const CI_PRINCIPAL = "tag:ci,tag:ci-acme-api";
export const CI_NODE = "nCIRUNNER01";
export const ADMIN_ADDRESS = "127.0.0.9";
const CAP = "keyless.dev/cap/gateway";

/** What the fake model asks for first (test/fakes/upstream.ts): a shell command the CLIs run without asking. */
export const ECHO = "echo hello";

/**
 * The guardrail case: a recursive delete in HOME (rule fs.rm-root-or-home, destructive_fs, critical) aimed at a
 * sentinel directory, so a command that slipped through deletes only that. No `-f`: Codex rejects `rm -f` style
 * commands itself, which would hide whether the gateway blocked it.
 */
export const SENTINEL = "keyless-sentinel";
export const RM = `rm -r ~/${SENTINEL}`;
export const REFUSAL = /keyless guardrails blocked the tool call "\w+" \(rm -r ~\/keyless-sentinel\); it was not run/;

/**
 * The CI node may use every model and has destructive filesystem commands blocked; the admin reads the API.
 * `providers` are added to the default ones (say, a Bedrock provider on a fake cloud); `extra` holds other sections
 * (routes, routing).
 */
export function startAgentHarness(providers: Readonly<Record<string, unknown>> = {}, extra: Readonly<Record<string, unknown>> = {}): Promise<Harness> {
  return startHarness({
    peers: {
      [CI_ADDRESS]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: CI_NODE },
      [ADMIN_ADDRESS]: { login: "admin@example.com" },
    },
    config: (upstreamUrl) => ({
      providers: { ...defaultProviders(upstreamUrl), ...providers },
      grants: [
        { src: ["tag:ci"], app: { [CAP]: [{ role: "user", models: "**" }, { guardrails: { destructive_fs: "block" } }] } },
        { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin" }] } },
      ],
      ...extra,
    }),
  });
}

/** A directory (with a file) in the job's HOME that `RM` would delete. */
export function plantSentinel(job: Job): string {
  const dir = join(job.home, SENTINEL);
  mkdirSync(dir);
  writeFileSync(join(dir, "keep"), "the guardrail must keep this\n");
  return dir;
}

/** The gateway's log rows for the CI node since `since` (ms), once at least `count` are written; oldest first. */
export async function ciRows(h: Harness, since: number, count: number): Promise<RequestRow[]> {
  await h.gateway.requestLog.flush();
  const rows = await waitFor(async () => {
    const list = (await h.gateway.requestLog.list({ principal: CI_PRINCIPAL, since }));
    return list.length >= count ? list : undefined;
  }, 3000, `${count} request rows`);
  return rows.reverse();
}

/** Every row is the tagged CI node's, with tokens and a price. */
export function assertAttributed(rows: readonly RequestRow[]): void {
  for (const row of rows) {
    assert.equal(row.principal, CI_PRINCIPAL);
    assert.equal(row.node_id, CI_NODE);
    assert.deepEqual(row.tags, ["tag:ci", "tag:ci-acme-api"]);
    assert.equal(row.status, 200, `${row.model} ${row.path}`);
    assert.ok(row.input_tokens! > 0 && row.output_tokens! > 0, `usage on ${row.model}: ${row.input_tokens}/${row.output_tokens}`);
    assert.ok(row.cost_nanos! > 0, `a cost on ${row.model}: ${row.cost_nanos}`);
  }
}

/** Tool calls through the admin API (`GET /api/tool-calls`), once `until` accepts them. */
export async function toolCalls(h: Harness, query: Record<string, string>, until: (rows: ToolCallRow[]) => boolean): Promise<ToolCallRow[]> {
  await h.gateway.requestLog.flush();
  const admin = h.fetchFrom(ADMIN_ADDRESS);
  return waitFor(async () => {
    const res = await admin(`${h.gateway.url}/api/tool-calls?${new URLSearchParams(query)}`);
    assert.equal(res.status, 200);
    const rows = ((await res.json()) as { tool_calls: ToolCallRow[] }).tool_calls;
    return until(rows) ? rows : undefined;
  }, 3000, `tool calls ${JSON.stringify(query)}`);
}

const AUTH_HEADERS = ["x-api-key", "authorization", "x-goog-api-key", "api-key"];

/**
 * The upstream saw only the provider's key (never the job's placeholder), and the provider key shows up neither in
 * the CLI's output nor in any file it wrote (settings, transcripts, logs, caches).
 */
export function assertKeysSafe(h: Harness, fromRequest: number, provider: keyof typeof KEYS, run: CliRun, job: Job): void {
  const requests = h.upstream.requests.slice(fromRequest);
  assert.ok(requests.length > 0);
  for (const req of requests) {
    const auth = AUTH_HEADERS.filter((name) => req.headers[name] !== undefined);
    assert.ok(auth.length > 0, `${req.path} carried a credential`);
    for (const name of auth) assert.ok(req.headers[name]!.endsWith(KEYS[provider]), `${name} is the provider key`);
    for (const [name, value] of Object.entries(req.headers)) {
      assert.ok(value !== PLACEHOLDER_KEY && !value.includes(`Bearer ${PLACEHOLDER_KEY}`), `placeholder key in upstream header ${name}`);
    }
    assert.ok(!req.query.includes("key="));
  }
  assertSecretsAbsent(run, job, Object.values(KEYS));
}

/** None of `secrets` shows up in the CLI's output or in any file it wrote (settings, transcripts, logs, caches). */
export function assertSecretsAbsent(run: CliRun, job: Job, secrets: readonly string[]): void {
  const files = filesUnder(job.root);
  for (const secret of secrets) {
    assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "a provider key in the CLI's output");
    for (const file of files) assert.ok(!readFileSync(file).includes(secret), `a provider key in ${file}`);
  }
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return [];
    return st.isDirectory() ? filesUnder(path) : st.isFile() ? [path] : [];
  });
}

/** The failure message for a CLI run: its exit and the tail of both streams. */
export function described(run: CliRun): string {
  return `exit ${run.code} (${run.signal ?? "no signal"}) after ${run.ms} ms\n--- stdout\n${run.stdout.slice(-3000)}\n--- stderr\n${run.stderr.slice(-3000)}`;
}
