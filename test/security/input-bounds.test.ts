// Input that froze or fooled the gateway (security issue, holes 4, 9 and 10), replayed through the real HTTP server:
// tool calls whose analysis explodes, duplicate JSON keys, bodies nested 100k levels deep.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { monitorEventLoopDelay } from "node:perf_hooks";
import Anthropic from "@anthropic-ai/sdk";
import { listToolCalls } from "../../gateway/store/tool-calls.js";
import { anthropicMessage, anthropicStream, json } from "../guardrails/responses.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const ALICE = "127.0.0.2"; // her guardrails block destructive_fs
const BOB = "127.0.0.3"; // no guardrails: findings are recorded, nothing is blocked
const ROOT = "127.0.0.4"; // admin
const CAP = "keyless.dev/cap/gateway";

/** 207 bytes that expand to 2^28 characters: 1.2–1.7 s and ~500 MB each before analysis was bounded. */
const DOUBLING = `a=x;${"a=$a$a;".repeat(28)}echo $a`;
/** 100k characters of nested substitutions: a 5 s stall before. */
const NESTED = `${"$(".repeat(50_000)}echo hi${")".repeat(50_000)}`;
/** Unbounded, these stalled the loop for seconds; a busy 2-core CI machine can stall a healthy process for hundreds of ms. */
const HEALTHZ_MS = 1000;
const RSS_GROWTH = 150e6;

describe("input that froze or fooled the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" }, [BOB]: { login: "bob@example.com" }, [ROOT]: { login: "root@example.com" } },
      config: () => ({
        grants: [
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "user", models: "**" }, { guardrails: { destructive_fs: "block" } }] } },
          { src: ["bob@example.com"], app: { [CAP]: [{ role: "user", models: ["anthropic/claude-haiku-*", "anthropic/claude-sonnet-*"] }] } },
          { src: ["root@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
        ],
      }),
    });
  });
  after(() => h.close());

  before(async () => {
    // Warm up (rule catalog compiled, SDK and routes loaded) so only the analysis under test is measured.
    for (const from of [ALICE, BOB]) {
      h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", bash(2, "ls -la"))));
      await claude(from).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "warm" }] });
    }
  });

  const claude = (from: string) => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
  const bash = (n: number, command: string) => Array.from({ length: n }, (_, i) => ({ id: `toolu_${i}`, name: "Bash", input: { command } }));

  /**
   * Runs `work` while another caller polls /healthz: its slowest answer, the longest the event loop was blocked
   * (gateway, upstream and clients share this process), and the RSS peak above the start.
   */
  async function whileWatching<T>(work: () => Promise<T>): Promise<{ result: T; worstMs: number; blockedMs: number; rssGrowth: number; polls: number }> {
    const health = h.fetchFrom(ROOT);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    let worstMs = 0;
    let polls = 0;
    let done = false;
    const poller = (async () => {
      while (!done) {
        const t = performance.now();
        const res = await health(`${h.gateway.url}/healthz`);
        await res.arrayBuffer();
        worstMs = Math.max(worstMs, performance.now() - t);
        peak = Math.max(peak, process.memoryUsage().rss);
        polls++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    loop.enable();
    try {
      const result = await work();
      await h.gateway.requestLog.flush();
      return { result, worstMs, blockedMs: loop.max / 1e6, rssGrowth: peak - rss0, polls };
    } finally {
      loop.disable();
      done = true;
      await poller;
    }
  }

  const rowsOf = (requestId: string, count: number) =>
    waitFor(async () => {
      const rows = (await listToolCalls(h.gateway.store, { requestId }));
      return rows.length >= count ? rows : undefined;
    }, 5000, `${count} tool-call rows`);

  describe("hole 4: one tool call cannot freeze the gateway", () => {
    it("ten doubling calls in one response: /healthz keeps answering, memory stays flat, each call is flagged as unknown", async () => {
      h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", bash(10, DOUBLING))));
      const watched = await whileWatching(async () => {
        const { data, response } = await claude(BOB).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).withResponse();
        const id = response.headers.get("x-keyless-request-id") ?? "";
        await h.gateway.requestLog.flush();
        return { data, rows: await rowsOf(id, 10) };
      });
      console.log(`ten doubling calls: /healthz worst ${watched.worstMs.toFixed(1)} ms over ${watched.polls} polls, loop blocked ≤ ${watched.blockedMs.toFixed(1)} ms, RSS +${(watched.rssGrowth / 1e6).toFixed(1)} MB`);
      assert.equal(watched.result.data.content.filter((b) => b.type === "tool_use").length, 10, "a caller that cannot block gets the calls untouched");
      assert.ok(watched.worstMs < HEALTHZ_MS && watched.blockedMs < HEALTHZ_MS, `/healthz took ${watched.worstMs} ms, the loop was blocked ${watched.blockedMs} ms`);
      assert.ok(watched.rssGrowth < RSS_GROWTH, `RSS grew ${watched.rssGrowth} bytes`);
      for (const row of watched.result.rows) {
        assert.equal(row.action, "flag");
        assert.ok(row.findings.some((f) => f.ruleId === "obf.analysis-limit" && f.action === "flag"), JSON.stringify(row.findings));
      }
    });

    it("streamed to a caller whose guardrails block: every doubling call is blocked as unknown, the stream stays valid", async () => {
      h.upstream.once(/^\/v1\/messages$/, () => anthropicStream("claude-sonnet-4-6", bash(10, DOUBLING)));
      const watched = await whileWatching(() =>
        claude(ALICE).messages.stream({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).finalMessage(),
      );
      console.log(`ten doubling calls, streamed and blocked: /healthz worst ${watched.worstMs.toFixed(1)} ms over ${watched.polls} polls, loop blocked ≤ ${watched.blockedMs.toFixed(1)} ms, RSS +${(watched.rssGrowth / 1e6).toFixed(1)} MB`);
      const message = watched.result;
      assert.equal(message.stop_reason, "end_turn");
      assert.equal(message.content.length, 10);
      for (const block of message.content) {
        assert.equal(block.type, "text");
        if (block.type === "text") assert.match(block.text, /obf\.analysis-limit \(obfuscation, high\)/);
      }
      assert.ok(watched.worstMs < HEALTHZ_MS && watched.blockedMs < HEALTHZ_MS, `/healthz took ${watched.worstMs} ms, the loop was blocked ${watched.blockedMs} ms`);
      assert.ok(watched.rssGrowth < RSS_GROWTH, `RSS grew ${watched.rssGrowth} bytes`);
    });

    it("a 100k-character nested $(…) is refused by the analyzer before it stalls anyone", async () => {
      h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", bash(3, NESTED))));
      const watched = await whileWatching(async () => {
        const { response } = await claude(BOB).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).withResponse();
        await h.gateway.requestLog.flush();
        return rowsOf(response.headers.get("x-keyless-request-id") ?? "", 3);
      });
      console.log(`three nested calls: /healthz worst ${watched.worstMs.toFixed(1)} ms over ${watched.polls} polls, loop blocked ≤ ${watched.blockedMs.toFixed(1)} ms`);
      assert.ok(watched.worstMs < HEALTHZ_MS && watched.blockedMs < HEALTHZ_MS, `/healthz took ${watched.worstMs} ms, the loop was blocked ${watched.blockedMs} ms`);
      for (const row of watched.result) assert.ok(row.findings.some((f) => f.ruleId === "obf.analysis-limit"), JSON.stringify(row.findings));
    });

    it("the calls of one response share 50 ms of analysis: past it, the rest are unknown at once", async () => {
      // Harmless but slow to analyse (1 500 words each, under every per-script bound): 40 of them are far more than 50 ms.
      const slow = `printf '%s\\n' ${"word ".repeat(1500)}`;
      h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", bash(40, slow))));
      const watched = await whileWatching(async () => {
        const { response } = await claude(BOB).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).withResponse();
        await h.gateway.requestLog.flush();
        return rowsOf(response.headers.get("x-keyless-request-id") ?? "", 40);
      });
      const unknownAt = watched.result
        .filter((r) => r.findings.some((f) => f.ruleId === "obf.analysis-limit"))
        .map((r) => Number(r.call_id.slice("toolu_".length)))
        .sort((a, b) => a - b);
      const unknown = unknownAt.length;
      console.log(`40 slow calls: ${40 - unknown} analysed, ${unknown} unknown; loop blocked ≤ ${watched.blockedMs.toFixed(1)} ms`);
      assert.ok(unknown > 0, "all 40 slow calls were analysed: the response's budget did not stop them");
      // The budget is the response's, not each call's: once it is spent, every later call is unknown. How many are
      // analysed first depends on the machine's speed (a busy one may spend it all on the first).
      assert.deepEqual(unknownAt, Array.from({ length: unknown }, (_, i) => 40 - unknown + i));
      // 50 ms of CPU, which a starved process may stretch to 20 times that in wall time (guardrails/bounds/time-limit.ts).
      assert.ok(watched.blockedMs < 50 * 20 + 500, `the loop was blocked ${watched.blockedMs} ms`);
    });
  });

  /** POSTs raw JSON text, as an attacker would (SDKs never write duplicate keys). */
  const post = async (from: string, path: string, text: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "placeholder", "anthropic-version": "2023-06-01", authorization: "Bearer placeholder" },
      body: text,
    });
    return { status: res.status, id: res.headers.get("x-keyless-request-id") ?? "", body: (await res.json()) as Record<string, unknown> };
  };
  const forwarded = () => h.upstream.requests.length;

  describe("hole 9: duplicate keys", () => {
    it("two models in one body: refused in the provider's error shape, naming the key, never forwarded", async () => {
      const before = forwarded();
      const text = '{"model":"claude-opus-4-1","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"model":"claude-haiku-4-5"}';
      const res = await post(BOB, "/v1/messages", text);
      assert.equal(res.status, 400);
      assert.equal(res.body.type, "error");
      const error = res.body.error as { type: string; message: string };
      assert.equal(error.type, "invalid_request_error");
      assert.match(error.message, /the key "model" twice \(at \$\.model\)/);
      assert.equal(forwarded(), before, "nothing reached the upstream");
    });

    it("deeper, escaped, and on the OpenAI route: the path is named, the shape is OpenAI's", async () => {
      const escaped = await post(BOB, "/v1/messages", '{"model":"claude-haiku-4-5","mod\\u0065l":"claude-opus-4-1","max_tokens":1,"messages":[]}');
      assert.equal(escaped.status, 400);
      const deep = await post(BOB, "/v1/chat/completions", '{"model":"gpt-5","messages":[{"role":"user","content":"a"},{"role":"user","content":"b","content":"c"}]}');
      assert.equal(deep.status, 400);
      const error = deep.body.error as { message: string; type: string };
      assert.equal(error.type, "invalid_request_error");
      assert.match(error.message, /the key "content" twice \(at \$\.messages\[1\]\.content\)/);
    });
  });

  describe("hole 10: bodies nested 100k levels deep", () => {
    const deepBody = `{"model":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}],"metadata":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`;
    const api = async (path: string) => {
      const res = await h.fetchFrom(ROOT)(`${h.gateway.url}${path}`);
      return { status: res.status, text: await res.text() };
    };

    it("refused at the door (400 in the provider's shape), and its capture still renders for admins", async () => {
      const before = forwarded();
      const res = await post(BOB, "/v1/messages", deepBody);
      assert.equal(res.status, 400);
      assert.match((res.body.error as { message: string }).message, /nests JSON deeper than 128 levels \(at \$\.metadata\.x\[0\]/);
      assert.equal(forwarded(), before);
      await h.gateway.requestLog.flush();
      const view = await api(`/api/requests/${res.id}`);
      assert.equal(view.status, 200, view.text.slice(0, 300));
      const body = (JSON.parse(view.text) as { capture: { request: { body: unknown } } }).capture.request.body;
      assert.equal(typeof body, "string", "a capture too deep to re-serialize is shown as its text");
      assert.ok((body as string).startsWith('{"model":"claude-haiku-4-5"'));
      const page = await api(`/ui/requests/${res.id}`);
      assert.equal(page.status, 200, page.text.slice(0, 300));
      assert.match(page.text, /\[\[\[\[/);
    });

    it("an upstream answer nested 100k deep is served, and its capture renders", async () => {
      h.upstream.once(/^\/v1\/messages$/, () =>
        new Response(`{"id":"msg_deep","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1},"extra":${"[".repeat(100_000)}${"]".repeat(100_000)}}`, {
          headers: { "content-type": "application/json" },
        }),
      );
      const res = await post(BOB, "/v1/messages", '{"model":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}');
      assert.equal(res.status, 200);
      await h.gateway.requestLog.flush();
      const view = await waitFor(async () => {
        const v = await api(`/api/requests/${res.id}`);
        return v.status === 404 ? undefined : v;
      }, 3000, "the row");
      assert.equal(view.status, 200, view.text.slice(0, 300));
      assert.equal(typeof (JSON.parse(view.text) as { capture: { response: { body: unknown } } }).capture.response.body, "string");
      assert.equal((await api(`/ui/requests/${res.id}`)).status, 200);
    });

    it("a tool call whose arguments nest 100k deep is logged (it used to wedge the request log's writer)", async () => {
      const message = JSON.stringify(anthropicMessage("claude-sonnet-4-6", [{ id: "toolu_deep", name: "Bash", input: { command: "ls", x: "DEEP" } }]));
      h.upstream.once(/^\/v1\/messages$/, () =>
        new Response(message.replace('"DEEP"', `${"[".repeat(100_000)}${"]".repeat(100_000)}`), { headers: { "content-type": "application/json" } }),
      );
      const { response } = await claude(BOB).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).withResponse();
      await h.gateway.requestLog.flush();
      const [row] = await rowsOf(response.headers.get("x-keyless-request-id") ?? "", 1);
      assert.deepEqual(row?.arguments, { _not_stored: "arguments nest deeper than 128 levels" });
      // The log keeps writing: the next request's row arrives too.
      const next = await post(BOB, "/v1/messages", '{"model":"claude-haiku-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}');
      await h.gateway.requestLog.flush();
      assert.ok(await waitFor(async () => (await h.gateway.requestLog.get(next.id))?.row, 3000, "the next row"));
    });

    it("an MCP call padded with arguments 100k deep is not waved through: its analysis failed, so it is blocked as unknown", async () => {
      const message = JSON.stringify(anthropicMessage("claude-sonnet-4-6", [{ id: "toolu_sql", name: "mcp__db__query", input: { sql: "DROP TABLE users", pad: "DEEP" } }]));
      h.upstream.once(/^\/v1\/messages$/, () =>
        new Response(message.replace('"DEEP"', `${"[".repeat(100_000)}${"]".repeat(100_000)}`), { headers: { "content-type": "application/json" } }),
      );
      const { data, response } = await claude(ALICE).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] }).withResponse();
      const block = data.content[0];
      assert.equal(block?.type, "text", "the call was replaced");
      if (block?.type === "text") assert.match(block.text, /mcp__db__query.*it was not run[\s\S]*obf\.analysis-limit/);
      await h.gateway.requestLog.flush();
      const [row] = await rowsOf(response.headers.get("x-keyless-request-id") ?? "", 1);
      assert.equal(row?.action, "block");
      assert.deepEqual(row?.findings.map((f) => f.ruleId), ["obf.analysis-limit"]);
    });
  });
});
