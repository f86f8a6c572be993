// GET /api/tool-calls and /api/tool-calls/stats: filters, and who sees whose calls.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type { ToolCallRow, ToolCallStats } from "../../gateway/store/tool-calls.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { anthropicMessage, json } from "./responses.js";
import { one } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.5";
const ADMIN = "127.0.0.9";
const NOBODY = "127.0.0.10";

describe("tool-call API", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: {
        [ALICE]: { login: "alice@example.com" },
        [BOB]: { login: "bob@example.com" },
        [ADMIN]: { login: "admin@example.com" },
        [NOBODY]: { login: "nobody@example.com" },
      },
      config: () => ({
        grants: [
          { src: ["alice@example.com", "bob@example.com"], app: { [CAP]: [{ role: "user", models: "**" }] } },
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
        ],
      }),
    });
    const turn = async (from: string, session: string, calls: { id: string; name: string; input: unknown }[]) => {
      h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", calls)));
      await new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0, defaultHeaders: { "x-claude-code-session-id": session } }).messages.create({
        model: "claude-sonnet-4-6",
        max_tokens: 10,
        messages: [{ role: "user", content: "go" }],
      });
    };
    await turn(ALICE, "s-alice", [
      { id: "toolu_a1", name: "Bash", input: { command: "ls" } },
      { id: "toolu_a2", name: "mcp__fakedb__run_query", input: { sql: "DROP TABLE users" } },
    ]);
    await turn(BOB, "s-bob", [{ id: "toolu_b1", name: "Bash", input: { command: "rm -rf ~" } }]);
    await h.gateway.requestLog.flush();
    await waitFor(async () => ((await one(h.gateway.store, "SELECT COUNT(*) AS n FROM tool_calls")) as { n: number }).n === 3, 3000, "3 rows");
  });
  after(() => h.close());

  const get = async (from: string, path: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const ids = async (from: string, query: string) => {
    const { status, body } = await get(from, `/api/tool-calls${query}`);
    assert.equal(status, 200, JSON.stringify(body));
    return (body.tool_calls as ToolCallRow[]).map((r) => r.call_id).sort();
  };

  it("admins see every call and can filter by principal, kind, name, finding, session, time and limit", async () => {
    assert.deepEqual(await ids(ADMIN, ""), ["toolu_a1", "toolu_a2", "toolu_b1"]);
    assert.deepEqual(await ids(ADMIN, "?principal=bob@example.com"), ["toolu_b1"]);
    assert.deepEqual(await ids(ADMIN, "?kind=mcp"), ["toolu_a2"]);
    assert.deepEqual(await ids(ADMIN, "?name=Bash"), ["toolu_a1", "toolu_b1"]);
    assert.deepEqual(await ids(ADMIN, "?finding=infra.sql-drop"), ["toolu_a2"], "by rule id");
    assert.deepEqual(await ids(ADMIN, "?finding=destructive_fs"), ["toolu_b1"], "by category");
    assert.deepEqual(await ids(ADMIN, "?action=flag"), ["toolu_a2", "toolu_b1"]);
    assert.deepEqual(await ids(ADMIN, "?session=s-alice"), ["toolu_a1", "toolu_a2"]);
    assert.deepEqual(await ids(ADMIN, `?since=${new Date(Date.now() + 60_000).toISOString()}`), []);
    assert.equal((await ids(ADMIN, "?limit=1")).length, 1);
    const row = ((await get(ADMIN, "/api/tool-calls?principal=bob@example.com")).body.tool_calls as ToolCallRow[])[0]!;
    assert.equal(row.command, "rm -rf ~");
    assert.deepEqual(row.arguments, { command: "rm -rf ~" });
    assert.equal(row.findings[0]?.ruleId, "fs.rm-root-or-home");
  });

  it("users see only their own calls; asking for someone else's is refused; no role is refused", async () => {
    assert.deepEqual(await ids(ALICE, ""), ["toolu_a1", "toolu_a2"]);
    assert.deepEqual(await ids(ALICE, "?principal=alice@example.com&kind=shell"), ["toolu_a1"]);
    const other = await get(ALICE, "/api/tool-calls?principal=bob@example.com");
    assert.equal(other.status, 403);
    assert.match(JSON.stringify(other.body), /only read its own tool calls/);
    assert.equal((await get(NOBODY, "/api/tool-calls")).status, 403);
    assert.equal((await get(ALICE, "/api/tool-calls?kind=teleport")).status, 400);
  });

  it("stats count by kind and name within the caller's view", async () => {
    const all = (await get(ADMIN, "/api/tool-calls/stats")).body as unknown as ToolCallStats;
    assert.equal(all.total, 3);
    assert.deepEqual(all.by_kind, [
      { kind: "shell", calls: 2, flagged: 1, blocked: 0 },
      { kind: "mcp", calls: 1, flagged: 1, blocked: 0 },
    ]);
    assert.deepEqual(all.by_name.map((n) => [n.name, n.calls]), [["Bash", 2], ["mcp__fakedb__run_query", 1]]);
    assert.deepEqual(all.by_action, { log: 1, flag: 2 });
    const mine = (await get(BOB, "/api/tool-calls/stats")).body as unknown as ToolCallStats;
    assert.equal(mine.total, 1);
    assert.deepEqual(mine.by_kind, [{ kind: "shell", calls: 1, flagged: 1, blocked: 0 }]);
  });
});
