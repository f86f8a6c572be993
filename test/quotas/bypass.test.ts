// Issue 11, hole 3, through the real gateway: requests whose cost hid from the estimate (a document by URL, Gemini's
// snake_case generation config) are now refused before they reach the provider, and what the pricer cannot see (a
// premium tier, server-tool fees) is charged.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { one, all } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const DOCS = "127.0.0.2";
const GEM = "127.0.0.3";
const RICH = "127.0.0.4";

describe("estimate bypasses through the gateway (issue 11, hole 3)", { concurrency: 1 }, () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [DOCS]: { login: "docs@example.com" }, [GEM]: { login: "gem@example.com" }, [RICH]: { login: "rich@example.com" } },
      config: () => ({
        quotas: {
          "docs:<user>": { capacity: "$0.05", rate: "$0/day" },
          "gem:<user>": { capacity: "$1.00", rate: "$0/day" },
          "rich:<user>": { capacity: "$50.00", rate: "$0/day" },
        },
        grants: [
          { src: ["docs@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "docs:<user>" }] }] } },
          { src: ["gem@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "gem:<user>" }] }] } },
          { src: ["rich@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "rich:<user>" }] }] } },
        ],
      }),
    });
  });
  after(() => h.close());

  /** What the provider billed this caller, by the gateway's own log (every request that reached it). */
  const spent = async (login: string) => {
    await h.gateway.requestLog.flush();
    return ((await one(h.gateway.store, "SELECT coalesce(sum(cost_nanos), 0) AS s FROM requests WHERE login = ?", login)) as { s: number }).s;
  };
  const forwarded = (path: RegExp) => h.upstream.requests.filter((r) => path.test(r.path)).length;

  const charge = async (requestId: string) => {
    await h.gateway.requestLog.flush();
    const rows = async () => (await all(h.gateway.store, "SELECT reserved_nanos, charged_nanos FROM quota_charges WHERE request_id = ?", requestId)) as { reserved_nanos: number; charged_nanos: number }[];
    const [row] = await waitFor(async () => {
      const found = await rows();
      return found.length > 0 ? found : undefined;
    }, 3000, "the settlement");
    return { ...row!, cost: (await h.gateway.requestLog.get(requestId))!.row.cost_nanos! };
  };

  it("charges server-tool fees per call the provider ran: one Anthropic search of two allowed, none for a Codex-style request", async () => {
    h.upstream.once(/^\/v1\/messages$/, () =>
      Response.json({
        id: "msg_search",
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-6",
        content: [
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "news" } },
          { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
          { type: "text", text: "nothing new" },
        ],
        stop_reason: "end_turn",
        stop_sequence: null,
        usage: { input_tokens: 2000, output_tokens: 20, server_tool_use: { web_search_requests: 1 } },
      }),
    );
    const anthropic = new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(RICH), maxRetries: 0 });
    const { response } = await anthropic.messages
      .create({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "news?" }], tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 2 }] })
      .withResponse();
    const searched = await charge(response.headers.get("x-keyless-request-id")!);
    assert.ok(searched.reserved_nanos >= (1 + 2) * 10_000 * 3750 + 2 * 10_000_000, "three model calls, the last two over 10k and 20k tokens of results, two fees");
    assert.equal(searched.charged_nanos, searched.cost + 10_000_000, "one search ran: $0.01 (the price table's fee)");

    // Codex declares web_search on every request; a turn that searches nothing pays no fee.
    const openai = new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(RICH), maxRetries: 0 });
    const turn = await openai.responses.create({ model: "gpt-5", input: "hi", tools: [{ type: "web_search" }] }).withResponse();
    const quiet = await charge(turn.response.headers.get("x-keyless-request-id")!);
    assert.ok(quiet.reserved_nanos > 10 * 10_000_000, "ten uncapped calls reserved");
    assert.equal(quiet.charged_nanos, quiet.cost, "no web_search_call in the output: tokens only");
  });

  it("refuses twenty 150-byte requests carrying a document by URL against a $0.05 bucket", async () => {
    // Each document is ~200k tokens at the provider (answers left queued here match no later test's path): $0.60 a request that the body's size never showed.
    for (let i = 0; i < 20; i++) {
      h.upstream.once(/^\/v1\/messages$/, () =>
        Response.json({ id: "msg_doc", type: "message", role: "assistant", model: "claude-sonnet-4-6", content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", stop_sequence: null, usage: { input_tokens: 200_000, output_tokens: 10 } }),
      );
    }
    const before = forwarded(/^\/v1\/messages$/);
    const client = new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(DOCS), maxRetries: 0 });
    // Sent together, as the attack was: each reserves its estimate before any settles.
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.messages
          .create({
            model: "claude-sonnet-4-6",
            max_tokens: 10,
            messages: [{ role: "user", content: [{ type: "document", source: { type: "url", url: `https://example.com/${i}.pdf` } }, { type: "text", text: "sum" }] }],
          })
          .then(
            () => "admitted",
            (err: unknown) => (err instanceof Anthropic.RateLimitError ? err.message : String(err)),
          ),
      ),
    );
    const total = await spent("docs@example.com");
    assert.ok(total <= 50_000_000, `$${total / 1e9} spent against a $0.05 bucket`);
    assert.equal(forwarded(/^\/v1\/messages$/) - before, 0, "none reached the provider");
    assert.equal(outcomes.filter((o) => o === "admitted").length, 0);
    assert.match(outcomes[0]!, /quota exceeded: this request may cost up to \$3\.75\d* \(≤ 1000000 input tokens \(content by reference/);
  });

  it("refuses Gemini's snake_case generation config against a $1.00 bucket, as it refuses camelCase", async () => {
    const path = "/v1beta/models/gemini-2.5-pro:generateContent";
    const billed = {
      candidates: [{ content: { role: "model", parts: [{ text: "ok" }] }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 8 * 65_536, totalTokenCount: 10 + 8 * 65_536 },
      modelVersion: "gemini-2.5-pro",
    };
    const before = forwarded(/gemini-2\.5-pro/);
    const statuses: number[] = [];
    for (const config of [
      { generation_config: { max_output_tokens: 65_536, candidate_count: 8 } },
      { generationConfig: { max_output_tokens: "65536", candidate_count: "8" } },
      { generationConfig: { maxOutputTokens: 65_536, candidateCount: 8 } },
    ]) {
      h.upstream.once(/gemini-2\.5-pro/, () => Response.json(billed));
      const res = await h.fetchFrom(GEM)(`${h.gateway.url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": "placeholder" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "write" }] }], ...config }),
      });
      statuses.push(res.status);
      const body = (await res.json()) as { error?: { status: string; message: string } };
      if (res.status === 429) {
        assert.equal(body.error?.status, "RESOURCE_EXHAUSTED");
        assert.match(body.error!.message, /≤ 524288 output tokens/);
      }
    }
    assert.deepEqual(statuses, [429, 429, 429]);
    assert.equal(forwarded(/gemini-2\.5-pro/) - before, 0);
    assert.ok((await spent("gem@example.com")) <= 1_000_000_000);
  });

  it("charges OpenAI priority processing at twice the list price", async () => {
    const client = new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(RICH), maxRetries: 0 });
    const { response } = await client.chat.completions
      .create({ model: "gpt-5", max_completion_tokens: 100, service_tier: "priority", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    const c = await charge(response.headers.get("x-keyless-request-id")!);
    assert.ok(c.cost > 0);
    assert.equal(c.charged_nanos, 2 * c.cost);
  });

});
