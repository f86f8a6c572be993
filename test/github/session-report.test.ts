// A session's report from the store tables the request path writes (requests, tool_calls), rendered into a check run
// body that GitHub's schema accepts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ReportData } from "../../src/ci-session.js";
import { isFlagged, renderMarkdown, renderTitle } from "../../gateway/github/render.js";
import { RequestLog, type RequestRow, type RowExtension } from "../../gateway/store/requests.js";
import { prTotals, sessionActivity, sessionReport } from "../../gateway/store/session-report.js";
import { SessionStore, toWire } from "../../gateway/store/sessions.js";
import type { ToolCallRecord } from "../../gateway/store/tool-calls.js";
import { type TestStore, all, openTestStore } from "../helpers/store.js";
import { validateRequest } from "../fakes/github.js";

const T0 = Date.parse("2026-11-20T10:00:00Z");

function row(id: string, session: string | null, at: number, over: Partial<RequestRow> = {}): RequestRow {
  return {
    id, ts: at, principal: "tag:ci,tag:ci-acme-api", login: null, node_id: "nRUNNER", node_name: "runner", tags: ["tag:ci"],
    session_id: session, client_session: null, user_agent: "claude-cli", provider: "anthropic", model: "claude-sonnet-4-6",
    route: "anthropic.messages", method: "POST", path: "/v1/messages", status: 200, duration_ms: 10, ttfb_ms: 5, streamed: true,
    input_tokens: 1000, cache_read_tokens: 5000, cache_write_tokens: 0, output_tokens: 200, reasoning_tokens: 0,
    cost_nanos: 6_500_000, tool_calls: 0, denial: null, error: null, flags: [], ...over,
  };
}

const shell = (callId: string, command: string, action: ToolCallRecord["action"] = "log", findings: ToolCallRecord["findings"] = []): ToolCallRecord => ({
  callId, name: "Bash", kind: "shell", mcpServer: null, mcpTool: null, command, paths: null, args: { command }, findings, action, nested: [],
});

describe("session report from the store", () => {
  let data: ReportData;
  let db: TestStore;
  let store: SessionStore;
  after(() => db.dispose());

  before(async () => {
    db = await openTestStore();
    store = new SessionStore(db);
    const base = { node_id: "nRUNNER", repository: "acme/api", repository_id: "812345678", owner: "acme", owner_id: "1", head_sha: "1".repeat(40), sha: "2".repeat(40), run_attempt: "1", workflow: "AI", job: null, actor: "octocat", event: "pull_request", ref: "refs/pull/42/merge", token_hash: null, token_expires_at: null };
    await store.insert({ ...base, id: "s1", pr_number: 42, run_id: "1", started_at: T0 });
    await store.insert({ ...base, id: "s0", pr_number: 42, run_id: "0", started_at: T0 - 86_400_000, node_id: "nOLD" });
    const log = new RequestLog(db, { intervalMs: 5 });
    const calls = (id: string, at: number, records: ToolCallRecord[]): RowExtension => ({
      rows: () => ({ kind: "tool_calls", ctx: { ts: at, principal: "tag:ci,tag:ci-acme-api", sessionId: id, clientSession: null }, calls: records, results: [] }),
    });
    log.record(row("r1", "s1", T0 + 1000, { tool_calls: 2 }), null, [calls("s1", T0 + 1000, [shell("c1", "npm ci"), shell("c2", "npm test -- --grep 'a|b'")])]);
    const finding = { ruleId: "destructive_fs.rm_home", category: "destructive_fs", severity: "high", action: "block" as const, message: "deletes the home directory", command: "rm -rf ~" };
    log.record(row("r2", "s1", T0 + 2000, { tool_calls: 1 }), null, [calls("s1", T0 + 2000, [shell("c3", "rm -rf ~ && echo done", "block", [finding])])]);
    log.record(row("r3", "s1", T0 + 3000, { tool_calls: 1, provider: "openai", model: "gpt-5", cost_nanos: null }), null, [
      calls("s1", T0 + 3000, [{ callId: "c4", name: "mcp__github__get_issue", kind: "mcp", mcpServer: "github", mcpTool: "get_issue", command: null, paths: null, args: {}, findings: [], action: "log", nested: [] }]),
    ]);
    log.record(row("r4", "s1", T0 + 4000, { status: 429, input_tokens: 0, cache_read_tokens: 0, output_tokens: 0, cost_nanos: 0, denial: "quota: bucket repo:acme-api is exhausted ($5.00 of $5.00)", error: "bucket exhausted" }), null);
    log.record(row("r5", "s1", T0 + 5000, { status: 403, input_tokens: 0, cache_read_tokens: 0, output_tokens: 0, cost_nanos: 0, denial: "policy: model gpt-9 is not granted" }), null);
    log.record(row("r6", "s1", T0 + 6000, { status: 529, input_tokens: 0, cache_read_tokens: 0, output_tokens: 0, cost_nanos: 0, error: "upstream overloaded" }), null);
    log.record(row("r7", null, T0 + 7000), null);
    log.record(row("r0", "s0", T0 - 80_000_000), null);
    await log.flush();
    // Charges as the quota plugin settles them (quotas/store.ts), one bucket shared with another session.
    const charge = (...v: unknown[]) => all(db, `INSERT INTO quota_charges (request_id, bucket, quota, ts, reserved_nanos, charged_nanos) VALUES (?, ?, ?, 0, ?, ?)`, ...v);
    await charge("r1", "repo:acme/api", "repo:<repo>", 9_000_000, 6_500_000);
    await charge("r2", "repo:acme/api", "repo:<repo>", 9_000_000, 6_500_000);
    await charge("r2", "daily:tag:ci", "daily:<user>", 9_000_000, 6_500_000);
    await charge("r0", "repo:acme/api", "repo:<repo>", 9_000_000, 6_500_000);
    const s = (await store.get("s1"))!;
    const balances: Record<string, number> = { "repo:acme/api": 4_980_500_000 };
    data = { session: toWire(s), ...(await sessionReport(db, s, (bucket) => balances[bucket] ?? null)) };
  });

  it("totals tokens, cost, errors and denials of the session only", () => {
    assert.deepEqual(data.totals, {
      requests: 6, errors: 1, denials: 2, input_tokens: 3000, cache_read_tokens: 15000, cache_write_tokens: 0,
      output_tokens: 600, cost_nanos: 13_000_000, unpriced_requests: 1, tool_calls: 4,
    });
    assert.deepEqual(data.by_model.map((m) => [m.provider, m.model, m.requests, m.cost_nanos]), [
      ["anthropic", "claude-sonnet-4-6", 5, 13_000_000],
      ["openai", "gpt-5", 1, null],
    ]);
  });

  it("groups refusals by kind with their reasons", () => {
    assert.deepEqual(data.problems, [
      { kind: "quota", reason: "bucket repo:acme-api is exhausted ($5.00 of $5.00)", count: 1 },
      { kind: "policy", reason: "model gpt-9 is not granted", count: 1 },
      { kind: "error", reason: "upstream overloaded", count: 1 },
    ]);
  });

  it("lists tool calls by kind, commands newest first, MCP tools and findings", () => {
    assert.deepEqual(data.tool_calls_by_kind, [{ kind: "shell", count: 3 }, { kind: "mcp", count: 1 }]);
    assert.deepEqual(data.commands.map((c) => [c.command, c.blocked]), [
      ["rm -rf ~ && echo done", true],
      ["npm test -- --grep 'a|b'", false],
      ["npm ci", false],
    ]);
    assert.equal(data.commands_omitted, 0);
    assert.deepEqual(data.mcp, [{ server: "github", tool: "get_issue", count: 1 }]);
    assert.deepEqual(data.findings, [{ at: new Date(T0 + 2000).toISOString(), severity: "high", rule: "destructive_fs.rm_home", action: "block", command: "rm -rf ~" }]);
    assert.equal(isFlagged(data), true);
  });

  it("lists the budget buckets the session was charged to, with their balance now", () => {
    assert.deepEqual(data.budgets, [
      { bucket: "daily:tag:ci", spent_nanos: 6_500_000, remaining_nanos: null },
      { bucket: "repo:acme/api", spent_nanos: 13_000_000, remaining_nanos: 4_980_500_000 },
    ]);
  });

  it("sums the PR over all its sessions", async () => {
    assert.deepEqual(data.pr, { sessions: 2, requests: 7, input_tokens: 4000, output_tokens: 800, cost_nanos: 19_500_000 });
    assert.deepEqual(await prTotals(db, "812345678", 7), { sessions: 0, requests: 0, input_tokens: 0, output_tokens: 0, cost_nanos: 0 });
  });

  it("gives an activity marker that changes with new requests", async () => {
    const before = await sessionActivity(db, ["s1", "s0", "nothing"]);
    assert.equal(before.size, 2);
    assert.equal(before.get("s1")?.lastAt, T0 + 6000);
    const log = new RequestLog(db, { intervalMs: 5 });
    log.record(row("r8", "s1", T0 + 8000), null);
    await log.flush();
    assert.notEqual((await sessionActivity(db, ["s1"])).get("s1")?.marker, before.get("s1")?.marker);
  });

  it("renders a final check run body GitHub's schema accepts, with cost, commands and the finding", () => {
    const summary = renderMarkdown(data, { detailsUrl: "https://ai.example/s/s1" });
    const body = { status: "completed", conclusion: "failure", completed_at: "2026-11-20T10:10:00Z", output: { title: renderTitle(data), summary } };
    assert.deepEqual(validateRequest("checks/update", body), []);
    assert.equal(body.output.title, "$0.0130+ · 18.6k tokens · 6 requests · 2 denied");
    assert.match(summary, /- `rm -rf ~ && echo done` \*\*blocked\*\*/);
    assert.match(summary, /- `npm test -- --grep 'a\|b'`/);
    assert.match(summary, /1 high\.\n\n\| Severity \| Rule \| Action \| Command \|[\s\S]*\| high \| destructive\\_fs\.rm\\_home \| block \| `rm -rf ~` \|/);
    assert.match(summary, /\| github \| `get_issue` \| 1 \|/);
    assert.match(summary, /\| quota \| bucket repo:acme-api is exhausted \\\(\\\$5\.00 of \\\$5\.00\\\) \| 1 \|/);
    assert.match(summary, /### PR #42 so far\n\n2 sessions/);
    assert.match(summary, /1 request\(s\) had no known price/);
    assert.match(summary, /\| repo:acme\/api \| \\\$0\.013 \| \\\$4\.9805 \|/);
    assert.match(summary, /\| daily:tag:ci \| \\\$0\.0065 \| unknown \|/);
  });
});
