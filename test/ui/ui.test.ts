// The web UI through the real gateway: who sees what, filters and paging, escaping of attacker-controlled strings,
// and the headers that keep scripts out.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { SCRIPT_URL } from "../../gateway/ui/assets.js";
import { UI_HEADERS } from "../../gateway/ui/layout.js";
import { anthropicMessage, json } from "../guardrails/responses.js";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { one, all } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.5";
const ADMIN = "127.0.0.9";
const NOBODY = "127.0.0.10";
const EVIL_COMMAND = `echo "<script>alert('cmd')</script>" && rm -rf ~`;
const EVIL_HEADER = `<script>alert("hdr")</script>`;

describe("web UI", () => {
  let h: Harness;
  let aliceToolId = "";
  let aliceStreamId = "";
  let bobChatId = "";
  let bobErrorId = "";

  before(async () => {
    h = await startHarness({
      peers: {
        [ALICE]: { login: "alice@example.com" },
        [BOB]: { login: "bob@example.com" },
        [ADMIN]: { login: "admin@example.com" },
        [NOBODY]: { login: "nobody@example.com" },
      },
      config: () => ({
        quotas: { "daily:<user>": { capacity: "$10.00", rate: "$10.00/day" } },
        grants: [
          { src: ["alice@example.com", "bob@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "daily:<user>" }] }] } },
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
        ],
      }),
    });
    const claude = (from: string) =>
      new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0, defaultHeaders: { "x-evil": EVIL_HEADER } });
    const openai = new OpenAI({ apiKey: "x", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(BOB), maxRetries: 0 });

    h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", [{ id: "toolu_evil", name: "Bash", input: { command: EVIL_COMMAND } }])));
    const tool = await claude(ALICE).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).withResponse();
    aliceToolId = tool.response.headers.get("x-keyless-request-id")!;
    const stream = await claude(ALICE).messages.stream({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).withResponse();
    aliceStreamId = stream.response.headers.get("x-keyless-request-id")!;
    await stream.data.finalMessage();
    const chat = await openai.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }] }).withResponse();
    bobChatId = chat.response.headers.get("x-keyless-request-id")!;
    h.upstream.once(/^\/v1\/chat\/completions$/, () => json({ error: { message: "bad request", type: "invalid_request_error", code: null } }, 400));
    const failed = await openai.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    assert.ok(failed instanceof OpenAI.BadRequestError);
    bobErrorId = failed.headers?.get("x-keyless-request-id") ?? "";
    assert.ok(bobErrorId);
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return ((await one(h.gateway.store, "SELECT COUNT(*) AS n FROM requests")) as { n: number }).n === 4;
    }, 3000, "4 request rows");
  });
  after(() => h.close());

  const page = async (from: string, path: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`, { redirect: "manual" });
    return { status: res.status, headers: res.headers, body: await res.text() };
  };
  /** Request ids linked from a list page. */
  const linkedRequests = (body: string) => [...body.matchAll(/href="\/ui\/requests\/([^"?]+)"/g)].map((m) => m[1]!);

  it("sends every page with the strict CSP, no framing, no caching, and scripts only from the gateway's own origin", async () => {
    for (const path of ["/ui/", "/ui/requests", `/ui/requests/${aliceToolId}`, "/ui/tool-calls", "/ui/sessions", "/ui/nowhere"]) {
      const res = await page(ADMIN, path);
      assert.equal(res.status, path === "/ui/nowhere" ? 404 : 200, `${path}: ${res.body.slice(0, 300)}`);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.equal(res.headers.get("content-security-policy"), UI_HEADERS["content-security-policy"]);
      assert.match(res.headers.get("content-security-policy")!, /default-src 'none'; script-src 'self'; style-src 'self';.*form-action 'self'; frame-ancestors 'none'/);
      assert.equal(res.headers.get("x-frame-options"), "DENY");
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      const scripts = [...res.body.matchAll(/<script[^>]*>/gi)].map((m) => m[0]);
      assert.deepEqual(scripts, [`<script src="${SCRIPT_URL}" defer>`], `${path}: one script, from the gateway, none inline`);
      assert.ok(!/<style|style="/i.test(res.body), `${path} has no inline style`);
      for (const key of Object.values(KEYS)) assert.ok(!res.body.includes(key), `${path} shows no provider key`);
    }
    assert.equal((await page(ADMIN, "/ui")).headers.get("location"), "/ui/");
  });

  it("refuses a caller without a role with a 403 page", async () => {
    for (const path of ["/ui/", "/ui/requests", `/ui/requests/${aliceToolId}`, "/ui/tool-calls", "/ui/sessions"]) {
      const res = await page(NOBODY, path);
      assert.equal(res.status, 403);
      assert.match(res.body, /access denied: no role granted/);
      assert.ok(!res.body.includes(aliceToolId) && !res.body.includes("alice@example.com"));
      assert.equal(res.headers.get("content-security-policy"), UI_HEADERS["content-security-policy"]);
    }
  });

  it("dashboard: admins see spend by model and principal and every bucket; users only their own", async () => {
    const admin = await page(ADMIN, "/ui/");
    assert.match(admin.body, /By principal/);
    assert.match(admin.body, /alice@example\.com/);
    assert.match(admin.body, /bob@example\.com/);
    assert.match(admin.body, /anthropic\/claude-opus-4-8/);
    assert.match(admin.body, /openai\/gpt-5/);
    assert.match(admin.body, /daily:alice@example\.com/);
    assert.match(admin.body, /daily:bob@example\.com/);
    // claude-opus-4-8: $5 in, $25 out per Mtok; the fake stream reports 12 in, 7 out.
    assert.match(admin.body, /\$0\.000235/);
    const errorsCard = /errors<b[^>]*>(\d+)<\/b>/.exec(admin.body);
    assert.equal(errorsCard?.[1], "1", "bob's 400 counts as an error today");

    const alice = await page(ALICE, "/ui/");
    assert.equal(alice.status, 200);
    assert.match(alice.body, /Dashboard · alice@example\.com/);
    assert.doesNotMatch(alice.body, /By principal/);
    assert.doesNotMatch(alice.body, /bob@example\.com/);
    assert.doesNotMatch(alice.body, /gpt-5/);
    assert.match(alice.body, /daily:alice@example\.com/);
    assert.match(alice.body, /<meter /);
  });

  it("requests: admins see everyone's; users only theirs, and another principal's detail is not found", async () => {
    const all = linkedRequests((await page(ADMIN, "/ui/requests")).body);
    assert.deepEqual(new Set(all), new Set([aliceToolId, aliceStreamId, bobChatId, bobErrorId]));
    const mine = linkedRequests((await page(ALICE, "/ui/requests")).body);
    assert.deepEqual(new Set(mine), new Set([aliceToolId, aliceStreamId]));

    assert.equal((await page(ALICE, "/ui/requests?principal=bob@example.com")).status, 403);
    const other = await page(ALICE, `/ui/requests/${bobChatId}`);
    assert.equal(other.status, 404);
    assert.doesNotMatch(other.body, /gpt-5|bob@example\.com/);
    assert.equal((await page(ADMIN, `/ui/requests/${bobChatId}`)).status, 200);
    assert.equal((await page(ALICE, `/ui/requests/${aliceToolId}`)).status, 200);
    assert.equal((await page(ADMIN, "/ui/requests/req_missing")).status, 404);
  });

  it("requests: filters by principal, model, provider and status class; bad filters are a 400 page", async () => {
    const ids = async (query: string) => new Set(linkedRequests((await page(ADMIN, `/ui/requests${query}`)).body));
    assert.deepEqual(await ids("?principal=bob@example.com"), new Set([bobChatId, bobErrorId]));
    assert.deepEqual(await ids("?model=claude-opus-4-8"), new Set([aliceStreamId]));
    assert.deepEqual(await ids("?provider=anthropic"), new Set([aliceToolId, aliceStreamId]));
    assert.deepEqual(await ids("?status=4xx"), new Set([bobErrorId]));
    assert.deepEqual(await ids("?status=2xx&principal=bob@example.com"), new Set([bobChatId]));
    assert.deepEqual(await ids("?status=denied"), new Set());
    assert.deepEqual(await ids("?model="), await ids(""), "an empty value is no filter");
    const filtered = await page(ADMIN, "/ui/requests?model=gpt-5");
    assert.match(filtered.body, /model = <code>gpt-5<\/code> <a href="\/ui\/requests" title="remove">/, "the filter shows with a link that removes it");
    assert.equal((await page(ADMIN, "/ui/requests?status=6xx")).status, 400);
    assert.equal((await page(ADMIN, "/ui/tool-calls?kind=teleport")).status, 400);
  });

  it("request detail: the row, redacted headers, pretty bodies, the rebuilt stream, and its tool calls, all escaped", async () => {
    const { body } = await page(ALICE, `/ui/requests/${aliceToolId}`);
    assert.match(body, /<th>(x-api-key|authorization)<\/th><td><code>\[redacted\]<\/code>/);
    assert.ok(body.includes(`<th>x-evil</th><td><code>&lt;script&gt;alert(&quot;hdr&quot;)&lt;/script&gt;</code>`), "the header, escaped");
    assert.ok(body.includes(`<code>echo &quot;&lt;script&gt;alert(&#39;cmd&#39;)&lt;/script&gt;&quot; &amp;&amp; rm -rf ~</code>`), "the command, escaped");
    assert.match(body, /fs\.rm-root-or-home/);
    assert.match(body, /<pre>\{\n {2}&quot;model&quot;: &quot;claude-sonnet-4-6&quot;/, "request body pretty-printed");
    assert.ok(!body.includes("<script>") && !body.includes(`alert("hdr")`) && !body.includes("alert('cmd')"));

    const stream = (await page(ALICE, `/ui/requests/${aliceStreamId}`)).body;
    assert.match(stream, /Response \(rebuilt from the stream\)/);
    assert.match(stream, /&quot;stop_reason&quot;: &quot;tool_use&quot;/);
    assert.match(stream, /<details><summary>Raw stream<\/summary><pre>event: message_start/);
  });

  it("tool calls: users see their own; filters by kind, finding and action; commands escaped in code", async () => {
    const admin = await page(ADMIN, "/ui/tool-calls");
    assert.match(admin.body, /echo hello/, "bob's chat call and alice's stream call");
    assert.ok(admin.body.includes("&lt;script&gt;alert(&#39;cmd&#39;)"));
    const alice = await page(ALICE, "/ui/tool-calls");
    assert.doesNotMatch(alice.body, /bob@example\.com|bash -lc/);
    assert.equal((await page(ALICE, "/ui/tool-calls?principal=bob@example.com")).status, 403);

    const rows = (body: string) => [...body.matchAll(/<code>([^<]*)<\/code><\/td>/g)].map((m) => m[1]).sort();
    const flagged = await page(ADMIN, "/ui/tool-calls?finding=destructive_fs");
    assert.equal(rows(flagged.body).length, 1);
    assert.match(flagged.body, /rm -rf ~/);
    assert.doesNotMatch(flagged.body, /echo hello/);
    assert.deepEqual(rows((await page(ADMIN, "/ui/tool-calls?finding=fs.rm-root-or-home")).body), rows(flagged.body));
    assert.deepEqual(rows((await page(ADMIN, "/ui/tool-calls?action=flag")).body), rows(flagged.body));
    assert.equal(rows((await page(ADMIN, "/ui/tool-calls?action=block")).body).length, 0);
    assert.equal(rows((await page(ADMIN, "/ui/tool-calls?kind=shell")).body).length, 3);
    assert.equal(rows((await page(ADMIN, "/ui/tool-calls?kind=mcp")).body).length, 0);
  });

  it("pages requests newest first through Older links, without gaps or repeats", async () => {
    const claude = new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(BOB), maxRetries: 0 });
    for (let i = 0; i < 55; i++) await claude.messages.countTokens({ model: "claude-sonnet-4-6", messages: [{ role: "user", content: "x" }] });
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return ((await one(h.gateway.store, "SELECT COUNT(*) AS n FROM requests")) as { n: number }).n === 59;
    }, 5000, "59 request rows");
    const seen: string[] = [];
    let path: string | null = "/ui/requests";
    let pages = 0;
    while (path !== null) {
      const { body }: { body: string } = await page(ADMIN, path);
      seen.push(...linkedRequests(body));
      pages++;
      const older: RegExpExecArray | null = /<a href="([^"]+)">Older »<\/a>/.exec(body);
      path = older ? older[1]!.replaceAll("&amp;", "&") : null;
    }
    assert.equal(pages, 2);
    assert.equal(seen.length, 59);
    assert.equal(new Set(seen).size, 59);
    const expected = ((await all(h.gateway.store, "SELECT id FROM requests ORDER BY ts DESC, id DESC")) as { id: string }[]).map((r) => r.id);
    assert.deepEqual(seen, expected);
  });
});
