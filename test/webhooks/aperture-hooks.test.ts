// Hooks configured as Aperture documents them (how-to/build-custom-webhook, aperture-recipes protocol-reference):
// the receiver checks Aperture's API key header and gets exactly the fields `send` selects; blocks answer in
// Aperture's envelopes; the hook's token is in no row and no log.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { TAILNET_SUFFIX } from "../fakes/tailscaled.js";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { type Received, Receiver } from "../helpers/hook-receiver.js";
import { all } from "../helpers/store.js";
import { storeContents } from "../guardrails/secret-values.js";
import { waitFor } from "../helpers/wait.js";

const APERTURE = "tailscale.com/cap/aperture";
const TOKEN = "hook-token-CANARY-0123456789";
const GOOGLE_TOKEN = "hook-goog-CANARY-9876543210";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.3";
const METADATA = ["login_name", "user_agent", "url", "model", "provider", "tailnet_name", "stable_node_id", "request_id", "session_id"];

describe("Aperture hooks", () => {
  let h: Harness;
  const rx = new Receiver();
  const logs: string[] = [];
  before(async () => {
    await rx.start();
    h = await startHarness({
      log: (m) => logs.push(m),
      peers: {
        [ALICE]: { login: "alice@example.com", nodeId: "nALICE", capMap: { "example.com/cap/deploy": [{ env: "prod" }] } },
        [BOB]: { login: "bob@example.com" },
      },
      config: () => ({
        // No refill: a balance only moves by what requests cost.
        quotas: { "daily:<user>": { capacity: "$10.00", rate: "$0/day" } },
        hooks: {
          audit: { url: rx.url("/audit"), apikey: TOKEN, timeout: "2s" },
          goog: { url: rx.url("/goog"), apikey: GOOGLE_TOKEN, authorization: "x-goog-api-key" },
          gate: { url: rx.url("/gate"), apikey: TOKEN, timeout: "2s", fail_policy: "fail_closed" },
        },
        grants: [
          {
            src: ["alice@example.com"],
            app: {
              [APERTURE]: [
                { role: "user", models: "**" },
                {
                  models: "anthropic/**",
                  quotas: [{ bucket: "daily:<user>" }],
                  send_hooks: [
                    { name: "audit", events: ["entire_request"], send: ["estimated_cost", "user_message", "tools", "response_body", "raw_responses", "grants", "quotas"] },
                    { name: "goog", events: ["tool_call_entire_request"], send: ["request_body"] },
                  ],
                },
              ],
            },
          },
          { src: ["bob@example.com"], app: { [APERTURE]: [{ role: "user", models: "**", send_hooks: [{ name: "gate", events: ["pre_request"], send: ["user_message"] }] }] } },
        ],
      }),
    });
  });
  after(async () => {
    await h.close();
    await rx.stop();
  });

  const claude = (from: string) => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
  const payloadOf = (r: Received) => JSON.parse(r.body) as { metadata: Record<string, unknown> } & Record<string, unknown>;

  it("entire_request: bearer token, exactly the selected fields, metadata as Aperture names it", async () => {
    const msg = await claude(ALICE).messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "list the files" }] });
    const r = await waitFor(() => rx.on("/audit").at(-1), 5000, "audit delivery");
    assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(r.headers["webhook-signature"], undefined, "no secret, no signature");
    assert.equal(r.headers["webhook-attempt"], "1");
    const payload = payloadOf(r);
    assert.deepEqual(Object.keys(payload).sort(), ["metadata", "raw_responses", "response_body", "tool_calls", "user_message"]);
    assert.deepEqual(Object.keys(payload.metadata).sort(), [...METADATA, "estimated_cost", "grants", "quotas"].sort());
    assert.equal(payload.metadata.login_name, "alice@example.com");
    assert.equal(payload.metadata.stable_node_id, "nALICE");
    assert.equal(payload.metadata.provider, "anthropic");
    assert.match(String(payload.metadata.url), /\/v1\/messages$/);
    assert.equal(payload.metadata.tailnet_name, TAILNET_SUFFIX, "the tailnet's MagicDNS name, from tailscaled");
    assert.deepEqual(payload.metadata.grants, { "example.com/cap/deploy": [{ env: "prod" }] });
    const cost = payload.metadata.estimated_cost as { dollars: number; cost_basis: string; usage: { input_tokens: number } };
    assert.equal(cost.cost_basis, "anthropic/claude-sonnet-4-6");
    assert.ok(cost.dollars > 0 && cost.usage.input_tokens > 0);
    assert.equal(payload.user_message, "list the files");
    assert.deepEqual(payload.response_body, JSON.parse(JSON.stringify(msg)));
    const calls = payload.tool_calls as { name: string; params: unknown }[];
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.name, (msg.content.find((b) => b.type === "tool_use") as { name: string }).name);
    // The bucket as the request found it, read from the budget store (SQLite's or PostgreSQL's).
    assert.deepEqual(payload.metadata.quotas, { "daily:alice@example.com": { current: 10_000_000_000, capacity: 10_000_000_000, rate: "$0/day" } });
  });

  it("a streamed answer is rebuilt into response_body", async () => {
    const before = rx.on("/audit").length;
    const stream = claude(ALICE).messages.stream({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "again" }] });
    const final = await stream.finalMessage();
    const r = await waitFor(() => rx.on("/audit")[before], 5000, "audit delivery of the stream");
    const payload = payloadOf(r);
    const body = payload.response_body as { content: { type: string }[] };
    assert.deepEqual(body.content.map((b) => b.type), final.content.map((b) => b.type));
    const events = payload.raw_responses as { type: string }[];
    assert.equal(events[0]?.type, "message_start");
    assert.equal(events.at(-1)?.type, "message_stop");
    // The first request's cost is off the balance (settled, or still reserved at least at that cost).
    const first = payloadOf(rx.on("/audit")[before - 1]!).metadata;
    const spent = Math.round((first.estimated_cost as { dollars: number }).dollars * 1e9);
    const current = (payload.metadata.quotas as Record<string, { current: number }>)["daily:alice@example.com"]!.current;
    assert.ok(spent > 0 && current <= 10_000_000_000 - spent, `balance ${current} after a first request of ${spent}`);
  });

  it("tool_call_entire_request: the hook's key in x-goog-api-key, only the request body", async () => {
    const r = await waitFor(() => rx.on("/goog").at(-1), 5000, "tool-call delivery");
    assert.equal(r.headers["x-goog-api-key"], GOOGLE_TOKEN);
    assert.equal(r.headers.authorization, undefined);
    const payload = payloadOf(r);
    assert.deepEqual(Object.keys(payload).sort(), ["metadata", "request_body"]);
    assert.deepEqual(Object.keys(payload.metadata).sort(), [...METADATA].sort());
  });

  it("pre_request block: Aperture's envelopes, invalid_request_error for Anthropic, guardrail_blocked for OpenAI", async () => {
    rx.reply["/gate"] = (r) =>
      r.headers.authorization === `Bearer ${TOKEN}` ? { status: 200, body: { action: "block", message: "no secrets in prompts" } } : { status: 401 };
    const sent = h.upstream.requests.length;
    await assert.rejects(claude(BOB).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "here is my key" }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError);
      assert.equal(err.status, 403);
      assert.deepEqual(err.error, { type: "error", error: { type: "invalid_request_error", message: "no secrets in prompts" } });
      return true;
    });
    const openai = new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(BOB), maxRetries: 0 });
    await assert.rejects(openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "here is my key" }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 403);
      assert.equal(err.type, "guardrail_blocked");
      return true;
    });
    assert.equal(h.upstream.requests.length, sent, "nothing forwarded");
    const payload = payloadOf(rx.on("/gate").at(-1)!);
    assert.deepEqual(Object.keys(payload).sort(), ["metadata", "user_message"]);
    assert.equal(payload.user_message, "here is my key");
  });

  it("the hook tokens appear in no row, capture, outbox entry or log line", async () => {
    const ids = (await all<{ id: string }>(h.gateway.store, "SELECT id FROM requests")).map((r) => r.id);
    // The database's own files (SQLite and its WAL) when there are any, every table the hooks touch, the captures.
    const files = [await storeContents(h, ids)];
    assert.ok(files.join("").includes("list the files"), "the store holds the captures searched");
    for (const secret of [TOKEN, GOOGLE_TOKEN, KEYS.anthropic]) {
      for (const f of files) assert.ok(!f.includes(secret), `${secret} in the store`);
      assert.ok(!logs.join("\n").includes(secret), `${secret} in the logs`);
    }
  });
});
