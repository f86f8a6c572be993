// Issue 11, hole 7: callers choose model names, and every distinct label value is a series /metrics keeps forever.
// 3,000 refused requests with unique 20,000-character model names once made /metrics answer 500 and kept ~70–100 KB
// each. Now the name is refused at the door (400, the provider's error shape) and labels come from a bounded set.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import v8 from "node:v8";
import vm from "node:vm";
import { MAX_MODEL_LABELS } from "../../gateway/proxy/metrics.js";
import { MAX_MODEL_LENGTH } from "../../gateway/proxy/routes.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const PEER = "127.0.0.2";
/** A user whose grant allows one model family only: the names below are refused (the attack). */
const LIMITED = "127.0.0.3";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
const heapMiB = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** Runs `task(i)` for i in [0, n), `width` at a time. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await task(next++);
  }));
}

describe("/metrics cardinality", () => {
  let h: Harness;
  /** One client for the whole file: each fetchFrom() is an undici Agent the harness keeps until close. */
  let peer: typeof fetch;
  let limited: typeof fetch;
  before(async () => {
    h = await startHarness({
      peers: { [PEER]: { login: "admin@example.com" }, [LIMITED]: { login: "limited@example.com" } },
      config: () => ({
        grants: [
          { src: ["admin@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } },
          { src: ["limited@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "anthropic/claude-haiku-*" }] } },
        ],
      }),
    });
    peer = h.fetchFrom(PEER);
    limited = h.fetchFrom(LIMITED);
  });
  after(() => h.close());

  const post = (path: string, body: unknown, from = peer) =>
    from(`${h.gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const metrics = async () => {
    const res = await peer(`${h.gateway.url}/metrics`);
    return { status: res.status, text: await res.text() };
  };

  it("a model name over the limit is refused at the door, in the provider's error shape", async () => {
    const long = `claude-${"x".repeat(MAX_MODEL_LENGTH)}`;
    const anthropic = await post("/v1/messages", { model: long, max_tokens: 5, messages: [] });
    assert.equal(anthropic.status, 400);
    const body = (await anthropic.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /the limit is 256/);
    assert.ok(body.error.message.length < 200);
    const openai = (await (await post("/v1/chat/completions", { model: `gpt-${"5".repeat(300)}`, messages: [] })).json()) as { error: { message: string } };
    assert.match(openai.error.message, /the limit is 256/);
    // In the path (Gemini): refused before decoding, too.
    const gemini = await post(`/v1beta/models/gemini-${"a".repeat(300)}:generateContent`, { contents: [] });
    assert.equal(gemini.status, 400);
    assert.match(((await gemini.json()) as { error: { message: string } }).error.message, /the limit is 256/);
    // At the limit it is served as before.
    const ok = await post("/v1/messages", { model: `claude-${"y".repeat(MAX_MODEL_LENGTH - 7)}`, max_tokens: 5, messages: [{ role: "user", content: "x" }] });
    assert.equal(ok.status, 200);
    assert.equal(h.upstream.requests.filter((r) => r.body.includes("x".repeat(MAX_MODEL_LENGTH))).length, 0);
  });

  it("3,000 refused requests with unique 20,000-character model names: /metrics answers 200, small; memory stays bounded", async () => {
    await h.gateway.requestLog.flush();
    const heapBefore = heapMiB();
    const started = performance.now();
    await pool(3000, 16, async (i) => {
      const model = `claude-${i}-${randomBytes(10_000).toString("hex")}`.slice(0, 20_000);
      const res = await post("/v1/messages", { model, max_tokens: 5, messages: [] }, limited);
      assert.equal(res.status, 400);
      await res.arrayBuffer();
    });
    const seconds = (performance.now() - started) / 1000;
    await h.gateway.requestLog.flush();
    const heapAfter = heapMiB();
    const { status, text } = await metrics();
    assert.equal(status, 200);
    console.log(`3,000 refusals in ${seconds.toFixed(1)} s; heap ${heapBefore.toFixed(1)} → ${heapAfter.toFixed(1)} MiB; /metrics ${(text.length / 1024).toFixed(1)} KiB`);
    assert.ok(text.length < 64 * 1024, `/metrics is ${text.length} bytes`);
    assert.ok(!/claude-\d+-[0-9a-f]{20}/.test(text), "a refused model name became a label");
    // Before the fix: ~70–100 KB retained per request, 200+ MiB here.
    assert.ok(heapAfter - heapBefore < 16, `heap grew ${(heapAfter - heapBefore).toFixed(1)} MiB`);
  });

  it("served models a caller makes up (within the length limit, matching a provider's glob) share one label past the cap", async () => {
    await pool(MAX_MODEL_LABELS + 150, 16, async (i) => {
      const res = await post("/v1/messages", { model: `claude-sonnet-4-6-made-up-${i}-${"z".repeat(200)}`, max_tokens: 5, messages: [{ role: "user", content: "x" }] });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });
    const { status, text } = await metrics();
    assert.equal(status, 200);
    const models = new Set([...text.matchAll(/model="([^"]*)"/g)].map((m) => m[1]));
    assert.ok(models.size <= MAX_MODEL_LABELS + 3, `${models.size} model label values`);
    assert.ok(models.has("other"));
    assert.ok(!/principal=|login=/.test(text), "principals are not labels");
  });
});
