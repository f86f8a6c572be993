import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { type RequestRow, RequestLog } from "../../gateway/store/requests.js";
import { type TestStore, all, one, openTestStore } from "../helpers/store.js";

const row = (id: string, ts: number, extra: Partial<RequestRow> = {}): RequestRow => ({
  id, ts, principal: "p", login: null, node_id: null, node_name: null, tags: [], session_id: null, client_session: null,
  user_agent: null, provider: "anthropic", model: "m", route: "anthropic.messages", method: "POST", path: "/v1/messages",
  status: 200, duration_ms: 1, ttfb_ms: 1, streamed: false, input_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 0,
  output_tokens: 1, reasoning_tokens: 0, cost_nanos: 10, tool_calls: 0, denial: null, error: null, flags: [], ...extra,
});
const capture = (text: string) => ({
  requestHeaders: { a: "b" }, requestBody: Buffer.from(text), requestTruncated: false,
  responseHeaders: {}, responseBody: Buffer.from(text.repeat(3)), responseTruncated: true,
});

describe("request log", () => {
  const stores: TestStore[] = [];
  const fresh = async () => {
    const store = await openTestStore();
    stores.push(store);
    return store;
  };
  after(() => Promise.all(stores.map((s) => s.dispose())));

  it("stores captures gzipped and reads them back", async () => {
    const store = await fresh();
    const log = new RequestLog(store);
    const body = JSON.stringify({ messages: "x".repeat(10_000) });
    log.record(row("r1", 1, { tags: ["tag:ci"], streamed: true }), capture(body));
    await log.flush();
    const stored = await one<{ n: number }>(store, "SELECT length(request_body) AS n FROM captures");
    assert.ok(stored && Number(stored.n) < body.length / 10, `stored ${stored?.n} bytes for a ${body.length}-byte body`);
    const got = (await log.get("r1"))!;
    assert.equal(Buffer.from(got.capture!.requestBody!).toString(), body);
    assert.equal(got.capture!.responseTruncated, true);
    assert.deepEqual(got.row.tags, ["tag:ci"]);
    assert.equal(got.row.streamed, true);
    assert.equal(typeof got.row.ts, "number", "BIGINT columns come back as numbers");
  });

  it("retention purges captures and keeps the accounting", async () => {
    const log = new RequestLog(await fresh());
    log.record(row("old", 1_000), capture("a"));
    log.record(row("new", 90_000_000), capture("b"));
    await log.flush();
    assert.equal(await log.purgeCaptures(5_000), 1);
    assert.equal((await log.get("old"))!.capture, null);
    assert.ok((await log.get("new"))!.capture);
    const usage = await log.usage({});
    assert.deepEqual(usage.map((u) => [u.day, u.requests, u.cost_nanos]), [["1970-01-02", 1, 10], ["1970-01-01", 1, 10]]);
    assert.deepEqual(await log.counts({}), { requests: 2, errors: 0, denials: 0 });
  });

  it("pages by (ts, id) and filters by status class", async () => {
    const log = new RequestLog(await fresh());
    for (let i = 0; i < 5; i++) log.record(row(`r${i}`, 100, { status: i === 4 ? 503 : 200 }), null);
    await log.flush();
    const first = await log.list({ limit: 2 });
    assert.deepEqual(first.map((r) => r.id), ["r4", "r3"]);
    const next = await log.list({ limit: 2, before: { ts: 100, id: "r3" } });
    assert.deepEqual(next.map((r) => r.id), ["r2", "r1"]);
    assert.deepEqual((await log.list({ status: "5xx" })).map((r) => r.id), ["r4"]);
  });

  it("keeps rows queued while the database refuses writes, and writes them later", async () => {
    const store = await fresh();
    const errors: unknown[] = [];
    const log = new RequestLog(store, { onError: (e) => errors.push(e) });
    await all(store, "ALTER TABLE requests RENAME TO requests_away");
    log.record(row("r", 1), null);
    await log.flush();
    assert.equal(errors.length, 1, "the write failure was reported");
    assert.equal(log.pending, 1, "the row is still queued");
    await all(store, "ALTER TABLE requests_away RENAME TO requests");
    await log.flush();
    assert.ok(await log.get("r"), "the row was kept and written once the store was back");
  });

  it("writes a row whose caller put NUL in its path, headers and tool calls (PostgreSQL's text refuses NUL)", async () => {
    const store = await fresh();
    const errors: unknown[] = [];
    const log = new RequestLog(store, { onError: (e) => errors.push(e) });
    const ctx = { ts: 1, principal: "p", sessionId: null, clientSession: null };
    const call = { callId: "c\0", name: "Bash\0", kind: "shell", mcpServer: null, mcpTool: null, command: "ls\0", paths: null, args: { a: "\0" }, findings: [], action: "log" as const, nested: [] };
    log.record(row("nul", 1, { path: "/v1beta/models/\0:generateContent", model: "m\0" }), { ...capture("x"), requestHeaders: { "x-a": "b\0" } }, [
      { rows: () => ({ kind: "tool_calls", ctx, calls: [call], results: [] }) },
    ]);
    log.record(row("after", 2), null);
    await log.flush();
    assert.deepEqual(errors, []);
    assert.equal(log.pending, 0, "nothing held up behind it");
    const got = await log.get("nul");
    assert.match(got?.row.path ?? "", /^\/v1beta\/models\/[\0\uFFFD]:generateContent$/);
    assert.ok(await log.get("after"));
    assert.deepEqual(await one(store, "SELECT COUNT(*) AS n FROM tool_calls"), { n: 1 });
  });
});
