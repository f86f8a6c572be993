import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const ADMIN = "127.0.0.2";
const USER = "127.0.0.3";

describe("admin API over the request log", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [ADMIN]: { login: "root@example.com" }, [USER]: { login: "bob@example.com" } },
      config: () => ({
        grants: [
          { src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } },
          { src: ["root@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } },
        ],
      }),
    });
  });
  after(() => h.close());
  const api = async (path: string, from = ADMIN) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** A request's row and capture, once the gateway has logged it (after the client read the end of the stream). */
  const logged = (id: string | null) =>
    waitFor(async () => {
      await h.gateway.requestLog.flush();
      const res = await api(`/api/requests/${id}`);
      return res.status === 200 ? res : undefined;
    }, 5000, `request ${id} logged`);
  type Capture = { request: { headers: Record<string, string>; body: unknown }; response: { body: unknown; rebuilt?: unknown } };

  it("rebuilds a streamed Anthropic response into the message a plain call returns", async () => {
    const claude = new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(USER), maxRetries: 0 });
    const { response } = await claude.messages.stream({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).withResponse();
    const { body } = await logged(response.headers.get("x-keyless-request-id"));
    const capture = body.capture as Capture;
    const credential = capture.request.headers["x-api-key"] ?? capture.request.headers.authorization;
    assert.equal(credential, "[redacted]");
    assert.match(String(capture.response.body), /^event: message_start/);
    const message = capture.response.rebuilt as { content: unknown[]; stop_reason: string; usage: { input_tokens: number; output_tokens: number } };
    assert.deepEqual(message.content, [{ type: "tool_use", id: "toolu_fake01", name: "Bash", input: { command: "echo hello", description: "fake test command" } }]);
    assert.equal(message.stop_reason, "tool_use");
    assert.equal(message.usage.output_tokens, 7);
    assert.equal(message.usage.input_tokens, 12);
  });

  it("rebuilds chat and Responses streams", async () => {
    const openai = new OpenAI({ apiKey: "x", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(USER), maxRetries: 0 });
    const chat = await openai.chat.completions.create({ model: "gpt-5", stream: true, messages: [{ role: "user", content: "x" }] }).withResponse();
    for await (const _ of chat.data);
    const resp = await openai.responses.create({ model: "gpt-5", input: "x", stream: true }).withResponse();
    for await (const _ of resp.data);
    const chatCapture = (await logged(chat.response.headers.get("x-keyless-request-id"))).body.capture as Capture;
    const completion = chatCapture.response.rebuilt as { object: string; choices: { message: { tool_calls: { function: { name: string; arguments: string } }[] }; finish_reason: string }[] };
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.choices[0]?.finish_reason, "tool_calls");
    assert.deepEqual(JSON.parse(completion.choices[0]!.message.tool_calls[0]!.function.arguments), { command: ["bash", "-lc", "echo hello"] });
    const respCapture = (await logged(resp.response.headers.get("x-keyless-request-id"))).body.capture as Capture;
    assert.equal((respCapture.response.rebuilt as { status: string }).status, "completed");
  });

  it("lists newest first with filters, and sums usage", async () => {
    const all = (await api("/api/requests?limit=100")).body.requests as { ts: number; principal: string; model: string }[];
    assert.ok(all.length >= 3);
    assert.ok(all.every((r, i) => i === 0 || all[i - 1]!.ts >= r.ts));
    const opus = (await api("/api/requests?model=claude-opus-4-8")).body.requests as { model: string }[];
    assert.ok(opus.length >= 1 && opus.every((r) => r.model === "claude-opus-4-8"));
    const none = (await api(`/api/requests?since=${Date.now() + 60_000}`)).body.requests as unknown[];
    assert.equal(none.length, 0);
    const usage = (await api("/api/usage?principal=bob@example.com")).body.usage as { principal: string; model: string; requests: number; cost_nanos: number }[];
    const opusUsage = usage.find((u) => u.model === "claude-opus-4-8")!;
    assert.equal(opusUsage.principal, "bob@example.com");
    // claude-opus-4-8: $5 in, $25 out per Mtok; 12 in, 7 out.
    assert.equal(opusUsage.cost_nanos, 12 * 5000 + 7 * 25000);
  });

  it("refuses non-admins and bad queries", async () => {
    assert.equal((await api("/api/requests", USER)).status, 403);
    const bad = await api("/api/requests?since=yesterday-ish");
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /since/);
    assert.equal((await api("/api/requests?bogus=1")).status, 400);
    assert.equal((await api("/api/requests/req_missing")).status, 404);
  });
});
