// Aperture's auth_mode on provider entries written as Aperture writes them (no type): "passthrough" forwards the
// caller's own credential (an API key or a subscription's OAuth token) and never the gateway's key alongside it, falls
// back to the gateway's key for callers without one; the call is logged, attributed and charged like any other, and
// the caller's credential is in no row and no log. "none" sends no credential at all.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const APERTURE = "tailscale.com/cap/aperture";
const CLIENT_KEY = "sk-ant-oat01-CLIENT-own-credential-0123456789";
const ALICE = "127.0.0.2";

describe("provider auth_mode", () => {
  let h: Harness;
  let own: FakeUpstream;
  const logs: string[] = [];
  before(async () => {
    // An upstream that knows only the caller's own credential.
    own = await startFakeUpstream({ keys: { anthropic: CLIENT_KEY, openai: "sk-nobody" } });
    h = await startHarness({
      log: (m) => logs.push(m),
      peers: { [ALICE]: { login: "alice@example.com" } },
      config: (upstreamUrl) => ({
        providers: {
          "anthropic-passthrough": {
            baseurl: own.url,
            apikey: KEYS.anthropic,
            authorization: "x-api-key",
            auth_mode: "passthrough",
            compatibility: { anthropic_messages: true },
            models: ["claude-*"],
          },
          selfhosted: { baseurl: `${upstreamUrl}/v1`, auth_mode: "none", models: ["qwen*"] },
        },
        quotas: { "own:<user>": { capacity: "$5.00", rate: "$0/day" } },
        grants: [{ src: ["alice@example.com"], app: { [APERTURE]: [{ role: "admin" }, { models: "**", quotas: [{ bucket: "own:<user>" }] }] } }],
      }),
    });
  });
  after(async () => {
    await h.close();
    await own.close();
  });

  const lastHeaders = () => own.requests.at(-1)!.headers;
  const allHeaders = () => own.requests.flatMap((r) => Object.values(r.headers)).join("\n");

  const post = (headers: Record<string, string>) =>
    h.fetchFrom(ALICE)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 20, messages: [{ role: "user", content: "hi" }] }),
    });

  it("forwards a subscription's token as the SDK sent it (Authorization: Bearer), never the gateway's key", async () => {
    const client = new Anthropic({ apiKey: null, authToken: CLIENT_KEY, baseURL: h.gateway.url, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    const msg = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });
    assert.equal(msg.role, "assistant");
    assert.equal(lastHeaders().authorization, `Bearer ${CLIENT_KEY}`);
    assert.equal(lastHeaders()["x-api-key"], undefined);
    assert.ok(!allHeaders().includes(KEYS.anthropic));
  });

  it("forwards an x-api-key as sent", async () => {
    const res = await post({ "x-api-key": CLIENT_KEY });
    assert.equal(res.status, 200, await res.text());
    assert.equal(lastHeaders()["x-api-key"], CLIENT_KEY);
    assert.equal(lastHeaders().authorization, undefined);
  });

  it("scrubs the caller's credential from an upstream answer that echoes it", async () => {
    own.once(/\/v1\/messages$/, (r) =>
      new Response(JSON.stringify({ type: "error", error: { type: "authentication_error", message: `invalid x-api-key ${r.headers["x-api-key"]}` } }), {
        status: 401,
        headers: { "content-type": "application/json", "x-echo": r.headers["x-api-key"] ?? "" },
      }),
    );
    const res = await post({ "x-api-key": CLIENT_KEY });
    const text = `${JSON.stringify([...res.headers])}${await res.text()}`;
    assert.equal(res.status, 401);
    assert.match(text, /invalid x-api-key/);
    assert.ok(!text.includes(CLIENT_KEY), text);
  });

  it("uses the gateway's key for a caller that brings none", async () => {
    await (await post({})).text();
    assert.equal(lastHeaders()["x-api-key"], KEYS.anthropic);
    assert.equal(lastHeaders().authorization, undefined);
  });

  it("auth_mode none sends no credential, and a baseurl ending in /v1 still reaches /v1/chat/completions", async () => {
    const client = new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    await client.chat.completions.create({ model: "qwen3-coder", messages: [{ role: "user", content: "hi" }] }).catch(() => undefined);
    const sent = h.upstream.requests.at(-1)!;
    assert.equal(sent.path, "/v1/chat/completions");
    assert.equal(sent.headers.authorization, undefined);
  });

  it("logs and charges the passthrough calls like any other; the caller's credential is in no row, capture or log", async () => {
    await h.gateway.requestLog.flush();
    const rows = (await h.gateway.requestLog.list({ principal: "alice@example.com", limit: 10 })).filter((r) => r.provider === "anthropic-passthrough" && r.status === 200);
    assert.equal(rows.length, 2, "the SDK call and the x-api-key call");
    for (const row of rows) assert.ok(row.flags.includes("client_credentials"), JSON.stringify(row.flags));
    const quotas = await waitFor(async () => {
      const res = await h.fetchFrom(ALICE)(`${h.gateway.url}/api/quotas`);
      const body = (await res.json()) as { buckets: { bucket: string; balance_nanos: number }[] };
      return body.buckets.find((b) => b.bucket === "own:alice@example.com");
    }, 3000, "alice's bucket");
    assert.ok(quotas.balance_nanos < 5e9, "the spend was counted against the budget");
    const files = [h.dbPath, `${h.dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f).toString("latin1")).join("");
    assert.ok(!files.includes(CLIENT_KEY), "client credential in the store");
    assert.ok(!logs.join("\n").includes(CLIENT_KEY), "client credential in the logs");
  });
});
