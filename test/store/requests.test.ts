import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openDatabase } from "../../gateway/store/db.js";
import { REQUESTS_SCHEMA, type RequestRow, RequestLog } from "../../gateway/store/requests.js";

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
  it("stores captures gzipped and reads them back", async () => {
    const db = openDatabase(":memory:", [REQUESTS_SCHEMA]);
    const log = new RequestLog(db);
    const body = JSON.stringify({ messages: "x".repeat(10_000) });
    log.record(row("r1", 1), capture(body));
    await log.flush();
    const stored = db.prepare("SELECT length(request_body) AS n FROM captures").get() as { n: number };
    assert.ok(stored.n < body.length / 10, `stored ${stored.n} bytes for a ${body.length}-byte body`);
    const got = log.get("r1")!;
    assert.equal(Buffer.from(got.capture!.requestBody!).toString(), body);
    assert.equal(got.capture!.responseTruncated, true);
  });

  it("retention purges captures and keeps the accounting", async () => {
    const db = openDatabase(":memory:", [REQUESTS_SCHEMA]);
    const log = new RequestLog(db);
    log.record(row("old", 1_000), capture("a"));
    log.record(row("new", 9_000), capture("b"));
    await log.flush();
    assert.equal(log.purgeCaptures(5_000), 1);
    assert.equal(log.get("old")!.capture, null);
    assert.ok(log.get("new")!.capture);
    assert.equal(log.usage({})[0]!.requests, 2);
  });

  it("keeps rows queued while the database is locked, and writes them later", async () => {
    const db = openDatabase(":memory:", [REQUESTS_SCHEMA]);
    const errors: unknown[] = [];
    const log = new RequestLog(db, { onError: (e) => errors.push(e) });
    db.exec("DROP TABLE captures; DROP TABLE requests");
    log.record(row("r", 1), null);
    await log.flush();
    assert.equal(errors.length, 1, "the write failure was reported");
    db.exec(REQUESTS_SCHEMA);
    await log.flush();
    assert.ok(log.get("r"), "the row was kept and written once the store was back");
  });
});
