// Canary provider keys must not surface anywhere a client or an operator can look: responses, errors, log rows,
// captures, the raw SQLite files, metrics, the admin API, the gateway's own log lines.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";

const PEER = "127.0.0.2";

describe("canary provider keys", () => {
  let h: Harness;
  const seen: string[] = [];
  before(async () => {
    h = await startHarness({
      peers: { [PEER]: { login: "admin@example.com" } },
      config: () => ({ grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }] }),
    });
  });
  after(() => h.close());

  const record = async (res: Response) => {
    const headers: string[] = [];
    res.headers.forEach((v, k) => headers.push(`${k}: ${v}`));
    seen.push(headers.join("\n"), await res.text());
  };
  const post = (path: string, body: unknown) =>
    h.fetchFrom(PEER)(`${h.gateway.url}${path}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", "x-api-key": "client-key", authorization: "Bearer client-key" } });

  it("drives every provider, streaming and not, successes and failures", async () => {
    const anthropic = new Anthropic({ apiKey: "client-key", baseURL: h.gateway.url, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const openai = new OpenAI({ apiKey: "client-key", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    seen.push(JSON.stringify(await anthropic.messages.create({ model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] })));
    seen.push(JSON.stringify(await anthropic.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).finalMessage()));
    seen.push(JSON.stringify(await openai.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }] })));
    seen.push(JSON.stringify(await openai.responses.create({ model: "gpt-5", input: "x" })));
    await record(await post("/v1beta/models/gemini-3.8-flash:generateContent?key=client-key", { contents: [{ parts: [{ text: "x" }] }] }));
    // Upstream errors that echo the key, in each provider's shape.
    h.upstream.once(/messages/, () => Response.json({ type: "error", error: { type: "authentication_error", message: `bad key ${KEYS.anthropic}` } }, { status: 401 }));
    await record(await post("/v1/messages", { model: "claude-sonnet-4-6", max_tokens: 5, messages: [] }));
    h.upstream.once(/responses/, () => Response.json({ error: { message: `Incorrect API key provided: ${KEYS.openai}` } }, { status: 401 }));
    await record(await post("/v1/responses", { model: "gpt-5", input: "x" }));
    h.upstream.once(/models/, () => Response.json({ error: { code: 400, message: `API key ${KEYS.gemini} not valid`, status: "INVALID_ARGUMENT" } }, { status: 400 }));
    await record(await post("/v1beta/models/gemini-3.8-flash:generateContent", { contents: [] }));
    // Gateway-made errors.
    await record(await post("/v1/messages", { model: "nope", messages: [] }));
    await record(await post("/v1/chat/completions", "not json"));
    for (const path of ["/metrics", "/api/requests?limit=1000", "/api/usage", "/v1/models", "/healthz"]) await record(await h.fetchFrom(PEER)(`${h.gateway.url}${path}`));
    await h.gateway.requestLog.flush();
    for (const row of (await h.gateway.requestLog.list({ limit: 1000 }))) {
      const full = (await h.gateway.requestLog.get(row.id))!;
      seen.push(JSON.stringify(full.row), JSON.stringify(full.capture?.requestHeaders), JSON.stringify(full.capture?.responseHeaders));
      seen.push(Buffer.from(full.capture?.requestBody ?? []).toString(), Buffer.from(full.capture?.responseBody ?? []).toString());
    }
    assert.ok(seen.length > 30);
  });

  it("finds no key anywhere", async () => {
    const files = [h.dbPath, `${h.dbPath}-wal`].filter(existsSync).map((f) => readFileSync(f).toString("latin1"));
    for (const key of Object.values(KEYS)) {
      for (const text of [...seen, ...files]) assert.ok(!text.includes(key), `provider key found: …${text.slice(Math.max(0, text.indexOf(key) - 80), text.indexOf(key))}`);
    }
  });

  it("sent the provider key upstream, and no client key", async () => {
    const upstreamHeaders = h.upstream.requests.map((r) => JSON.stringify(r.headers) + r.query);
    assert.ok(upstreamHeaders.every((text) => !text.includes("client-key")), "a client credential reached the upstream");
    assert.ok(upstreamHeaders.some((text) => text.includes(KEYS.gemini)));
  });
});
