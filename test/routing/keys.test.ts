// Several keys per provider through the real HTTP server and the Anthropic SDK: traffic shared by weight, a key the
// provider answers 429 (or 401) rests for the provider's retry-after while the other carries the load and the client
// never sees the refusal, and per-key usage in /api/routing/keys and /metrics, with names and never keys.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { type FailingUpstream, startFailingUpstream } from "../fakes/failing-upstream.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

/** How long a refused key rests: the requests that must find it resting fit in it even on a busy machine. */
const REST_S = 3;

const KEY_A = "sk-ant-CANARY-key-a-0123456789abcdef";
const KEY_B = "sk-ant-CANARY-key-b-0123456789abcdef";
const ADMIN = "127.0.0.2";

describe("several keys per provider", () => {
  let h: Harness;
  let up: FailingUpstream;
  before(async () => {
    up = await startFailingUpstream();
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" } },
      config: () => ({
        providers: {
          anthropic: {
            type: "anthropic",
            baseurl: up.url,
            keys: [
              { name: "a", apikey: KEY_A, weight: 3 },
              { name: "b", apikey: KEY_B, weight: 1 },
            ],
            models: ["claude-*"],
          },
        },
        routing: { rate_limit_cooldown: "1s", auth_cooldown: `${REST_S}s` },
        grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }],
      }),
    });
  });
  after(async () => {
    await h.close();
    await up.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  const client = () => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(ADMIN), maxRetries: 0 });
  const ask = () => client().messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
  const keysUsed = () => up.requests.map((r) => (r.key === KEY_A ? "a" : r.key === KEY_B ? "b" : "?"));
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const rested = () => sleep(REST_S * 1000 + 100);

  it("shares traffic by weight: 3 to 1 over every four requests", async () => {
    for (let i = 0; i < 8; i++) await ask();
    const used = keysUsed();
    assert.equal(used.filter((k) => k === "a").length, 6, used.join(""));
    assert.equal(used.filter((k) => k === "b").length, 2, used.join(""));
  });

  it("a key answered 429 rests until its retry-after passes; the other key answers meanwhile", async () => {
    up.failAlways(KEY_A, { kind: "rate_limited", retryAfterSeconds: REST_S });
    // Whichever key the round robin picks first, the client gets an answer.
    for (let i = 0; i < 4; i++) assert.equal((await ask()).stop_reason, "end_turn");
    const used = keysUsed();
    assert.equal(used.filter((k) => k === "a").length, 1, `key a tried once, then rested: ${used.join("")}`);
    assert.equal(used.filter((k) => k === "b").length, 4, used.join(""));
    up.failAlways(KEY_A, null);
    up.requests.length = 0;
    await rested();
    for (let i = 0; i < 4; i++) await ask();
    assert.ok(keysUsed().includes("a"), `key a back after its retry-after: ${keysUsed().join("")}`);
  });

  it("the row records the refused attempt and the key that answered", async () => {
    up.fail({ kind: "rate_limited", retryAfterSeconds: 1 });
    const res = await client().messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = res.response.headers.get("x-keyless-request-id")!;
    await h.gateway.requestLog.flush();
    const attempts = (await (await h.fetchFrom(ADMIN)(`${h.gateway.url}/api/requests/${id}/attempts`)).json()) as { attempts: { key_name: string; outcome: string; status: number; reason: string }[] };
    assert.deepEqual(attempts.attempts.map((a) => [a.outcome, a.status]), [["failed", 429], ["answered", 200]]);
    assert.notEqual(attempts.attempts[0]!.key_name, attempts.attempts[1]!.key_name);
    assert.match(attempts.attempts[0]!.reason, /^429 rate_limit_error: This request would exceed/);
    const [row] = await h.gateway.requestLog.list({ limit: 1 });
    assert.ok(row!.flags.includes("fallback"));
    await sleep(1100);
  });

  it("a key refused with 401 rests too; every key resting is a 429 with Retry-After in Anthropic's shape", async () => {
    up.failAlways(KEY_A, { kind: "unauthorized" });
    up.failAlways(KEY_B, { kind: "rate_limited", retryAfterSeconds: REST_S });
    const first = await ask().catch((e: unknown) => e);
    // Both keys were tried; the last answer is the provider's own.
    assert.ok(first instanceof Anthropic.APIError, String(first));
    assert.ok(first.status === 401 || first.status === 429);
    const err = await ask().catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, String(err));
    const body = (err.error as { error: { type: string; message: string } }).error;
    assert.equal(body.type, "rate_limit_error");
    assert.match(body.message, /every key for model "claude-sonnet-4-6" is resting/);
    assert.ok(Number(err.headers?.get("retry-after")) >= 1);
    assert.equal(up.requests.length, 2, "no upstream call while every key rests");
    up.failAlways(KEY_A, null);
    up.failAlways(KEY_B, null);
    await rested();
    assert.equal((await ask()).stop_reason, "end_turn");
  });

  it("per-key usage in /api/routing/keys and /metrics: names, counts, tokens, never a key", async () => {
    const fetchAdmin = h.fetchFrom(ADMIN);
    const api = await (await fetchAdmin(`${h.gateway.url}/api/routing/keys`)).text();
    const { keys } = JSON.parse(api) as { keys: { provider: string; key: string; weight: number; requests: number; statuses: Record<string, number>; input_tokens: number; output_tokens: number }[] };
    const a = keys.find((k) => k.key === "a")!;
    const b = keys.find((k) => k.key === "b")!;
    assert.equal(a.weight, 3);
    assert.ok(a.requests > 0 && b.requests > 0);
    assert.ok((a.statuses["429"] ?? 0) >= 1 && (a.statuses["401"] ?? 0) >= 1, JSON.stringify(a.statuses));
    assert.ok(a.input_tokens > 0 && a.output_tokens > 0);
    const metrics = await (await fetchAdmin(`${h.gateway.url}/metrics`)).text();
    assert.match(metrics, /keyless_provider_key_requests_total\{provider="anthropic",key="a",status="429"\} [1-9]/);
    assert.match(metrics, /keyless_provider_key_tokens_total\{provider="anthropic",key="b",kind="output"\} [1-9]/);
    assert.match(metrics, /keyless_provider_key_resting_seconds\{provider="anthropic",key="a"\}/);
    for (const text of [api, metrics]) {
      assert.ok(!text.includes(KEY_A) && !text.includes(KEY_B), "no key in /api or /metrics");
    }
  });
});
