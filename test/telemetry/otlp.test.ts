// OpenTelemetry end to end: the official Anthropic and OpenAI SDKs call a real gateway (fake tailscaled, fake provider)
// configured with `telemetry.otlp`; a collector on loopback decodes what the gateway's OTLP exporter sends and finds one
// span per request with the GenAI conventions' name and attributes, children of the callers' traceparent.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { parseConfigText } from "../../gateway/config/load.js";
import type { RequestRow } from "../../gateway/store/requests.js";
import { KEYS, type Harness, startHarness } from "../helpers/gateway.js";
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from "../helpers/otlp-receiver.js";

const ALICE = "127.0.0.2";
const CLIENT_KEY = "sk-ant-client-placeholder-must-not-leak";
const COLLECTOR_TOKEN = "otlp-collector-token-42";

const traceparent = (sampled = true) => {
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  return { traceId, parentId, header: `00-${traceId}-${parentId}-${sampled ? "01" : "00"}` };
};

describe("OpenTelemetry over OTLP", () => {
  let receiver: OtlpReceiver;
  let h: Harness;
  let spans: ReceivedSpan[] = [];
  const sent = { anthropic: traceparent(), stream: traceparent(), openai: traceparent(), unsampled: traceparent(false) };
  const answers: { anthropic?: Anthropic.Message; streamed?: Anthropic.Message; chat?: OpenAI.ChatCompletion } = {};
  const ids: Record<string, string> = {};

  before(async () => {
    receiver = await startOtlpReceiver();
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com", nodeId: "nALICE" } },
      config: () => ({
        telemetry: {
          otlp: { endpoint: `${receiver.url}/`, headers: { authorization: `Bearer ${COLLECTOR_TOKEN}` } },
          service_name: "keyless-test",
          batch_delay: "20ms",
          metrics_interval: "1h",
        },
      }),
    });
    const anthropic = (header?: string) =>
      new Anthropic({ apiKey: CLIENT_KEY, baseURL: h.gateway.url, fetch: h.fetchFrom(ALICE), maxRetries: 0, defaultHeaders: header ? { traceparent: header } : {} });
    const withId = async <T>(name: string, p: Promise<{ data: T; response: Response }>) => {
      const { data, response } = await p;
      ids[name] = response.headers.get("x-keyless-request-id") ?? "";
      return data;
    };
    try {
      answers.anthropic = await withId("anthropic", anthropic(sent.anthropic.header).messages.create({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] }).withResponse());
      const stream = anthropic(sent.stream.header).messages.stream({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
      answers.streamed = await stream.finalMessage();
      const openai = new OpenAI({ apiKey: "sk-client-openai-placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
      answers.chat = await withId("openai", openai.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] }, { headers: { traceparent: sent.openai.header } }).withResponse());
      await anthropic(sent.unsampled.header).messages.create({ model: "claude-sonnet-4-6", max_tokens: 8, messages: [{ role: "user", content: "not traced" }] });
      const refused = await anthropic().messages.create({ model: "llama-nowhere", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
      assert.ok(refused instanceof Anthropic.NotFoundError, String(refused));
    } finally {
      // Closing the gateway sends every span and metric still waiting.
      await h.close();
    }
    spans = receiver.spans();
  });
  after(() => receiver.close());

  const byModel = (model: string) => spans.filter((s) => s.attributes["gen_ai.request.model"] === model);

  it("one span per traced request, named by operation and model, a child of the caller's traceparent", () => {
    assert.deepEqual(spans.map((s) => s.name).sort(), ["chat claude-haiku-4-5", "chat claude-sonnet-4-6", "chat gpt-5-mini", "chat llama-nowhere"]);
    assert.ok(!spans.some((s) => s.traceId === sent.unsampled.traceId), "a parent marked not sampled: no span");
    for (const [name, model] of [["anthropic", "claude-sonnet-4-6"], ["stream", "claude-haiku-4-5"], ["openai", "gpt-5-mini"]] as const) {
      const [span] = byModel(model);
      assert.equal(span!.traceId, sent[name].traceId, `${model}: the caller's trace`);
      assert.equal(span!.parentSpanId, sent[name].parentId, `${model}: the caller's span is the parent`);
      assert.equal(span!.kind, 3, "SPAN_KIND_CLIENT: the model call the gateway makes");
      assert.ok(span!.endNanos > span!.startNanos);
    }
    const [root] = byModel("llama-nowhere");
    assert.equal(root!.parentSpanId, "", "no traceparent: a root span");
    assert.equal(root!.traceId.length, 32);
    assert.ok(!Object.values(sent).some((t) => t.traceId === root!.traceId));
  });

  it("gen_ai attributes: provider, operation, models, usage and finish reasons as the SDKs saw them", () => {
    const [claude] = byModel("claude-sonnet-4-6");
    const a = claude!.attributes;
    assert.equal(a["gen_ai.operation.name"], "chat");
    assert.equal(a["gen_ai.provider.name"], "anthropic");
    assert.equal(a["gen_ai.system"], "anthropic");
    assert.equal(a["gen_ai.response.model"], answers.anthropic!.model);
    assert.equal(a["gen_ai.response.id"], answers.anthropic!.id);
    assert.deepEqual(a["gen_ai.response.finish_reasons"], [answers.anthropic!.stop_reason]);
    const usage = answers.anthropic!.usage;
    assert.equal(a["gen_ai.usage.input_tokens"], usage.input_tokens + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0));
    assert.equal(a["gen_ai.usage.output_tokens"], usage.output_tokens);
    assert.equal(a["gen_ai.request.stream"], false);
    assert.equal(a["http.response.status_code"], 200);

    const [streamed] = byModel("claude-haiku-4-5");
    assert.equal(streamed!.attributes["gen_ai.request.stream"], true);
    assert.deepEqual(streamed!.attributes["gen_ai.response.finish_reasons"], [answers.streamed!.stop_reason]);
    assert.equal(streamed!.attributes["gen_ai.usage.output_tokens"], answers.streamed!.usage.output_tokens);

    const [gpt] = byModel("gpt-5-mini");
    const o = gpt!.attributes;
    assert.equal(o["gen_ai.provider.name"], "openai");
    assert.equal(o["gen_ai.response.model"], answers.chat!.model);
    assert.deepEqual(o["gen_ai.response.finish_reasons"], [answers.chat!.choices[0]!.finish_reason]);
    assert.equal(o["gen_ai.usage.input_tokens"], answers.chat!.usage!.prompt_tokens);
    assert.equal(o["gen_ai.usage.output_tokens"], answers.chat!.usage!.completion_tokens);
  });

  it("keyless attributes: the request id, the principal and the cost; a refusal is an error span", () => {
    const [claude] = byModel("claude-sonnet-4-6");
    assert.equal(claude!.attributes["keyless.request.id"], ids.anthropic);
    assert.equal(claude!.attributes["keyless.principal"], "alice@example.com");
    assert.equal(claude!.attributes["keyless.provider"], "anthropic");
    assert.ok(typeof claude!.attributes["keyless.cost_usd"] === "number" && claude!.attributes["keyless.cost_usd"] > 0);
    assert.equal(claude!.status.code ?? 0, 0);
    assert.equal(claude!.resource["service.name"], "keyless-test");
    assert.equal(claude!.resource["service.instance.id"], h.gateway.replica);
    const [refused] = byModel("llama-nowhere");
    assert.equal(refused!.attributes["error.type"], "policy");
    assert.equal(refused!.attributes["http.response.status_code"], 404);
    assert.equal(refused!.status.code, 2, "STATUS_CODE_ERROR");
  });

  it("exports carry the configured headers, and never a provider key or a client credential", () => {
    const traces = receiver.posts.filter((p) => p.path === "/v1/traces");
    assert.ok(traces.length > 0);
    for (const post of receiver.posts) {
      assert.equal(post.headers.authorization, `Bearer ${COLLECTOR_TOKEN}`);
      for (const secret of [...Object.values(KEYS), CLIENT_KEY, "sk-client-openai-placeholder"]) assert.ok(!post.body.includes(secret), `${secret} in an export`);
    }
  });

  it("GenAI metrics: token usage by type and operation duration, sent on shutdown", () => {
    const metrics = receiver.metrics();
    const tokens = metrics.filter((m) => m.name === "gen_ai.client.token.usage").flatMap((m) => m.points);
    assert.ok(tokens.some((p) => p["gen_ai.token.type"] === "input" && p["gen_ai.provider.name"] === "anthropic"));
    assert.ok(tokens.some((p) => p["gen_ai.token.type"] === "output" && p["gen_ai.request.model"] === "gpt-5-mini"));
    const durations = metrics.filter((m) => m.name === "gen_ai.client.operation.duration").flatMap((m) => m.points);
    // A model name the gateway does not know is never an attribute value: callers would grow the series without bound.
    assert.ok(durations.some((p) => p["error.type"] === "policy" && p["gen_ai.request.model"] === "other"), JSON.stringify(durations));
    assert.ok(!JSON.stringify(metrics).includes("llama-nowhere"));
    assert.ok(metrics.some((m) => m.name === "keyless.cost"));
  });

  it("config: off by default; an endpoint must be an http(s) URL", () => {
    assert.equal(parseConfigText("{}", {}).config.telemetry, undefined);
    assert.throws(() => parseConfigText(JSON.stringify({ telemetry: { otlp: { endpoint: "collector:4318" } } }), {}), /telemetry\.otlp\.endpoint/);
    const parsed = parseConfigText(JSON.stringify({ telemetry: { otlp: { endpoint: "http://c:4318", headers: { "x-token": "${OTLP_TOKEN}" } } } }), { OTLP_TOKEN: "t0k" });
    assert.deepEqual(parsed.config.telemetry?.otlp.headers, { "x-token": "t0k" });
    assert.equal(parsed.config.telemetry?.metrics_interval, 60_000);
  });
});

describe("OpenTelemetry with the collector away", () => {
  it("an export that fails is reported once, without the collector's headers, and never throws into the request path", async () => {
    const closed = await startOtlpReceiver();
    const endpoint = closed.url;
    await closed.close(); // nothing listens there now
    const reports: string[] = [];
    const { createTelemetry } = await import("../../gateway/telemetry/index.js");
    const config = parseConfigText(JSON.stringify({ telemetry: { otlp: { endpoint, headers: { authorization: `Bearer ${COLLECTOR_TOKEN}` }, timeout: "2s" }, metrics_interval: "0" } }), {}).config.telemetry!;
    const telemetry = createTelemetry(config, { version: "test", instance: "r1", onError: (err, context) => reports.push(`${context}: ${String(err)}`) });
    const row: RequestRow = {
      id: "req_x", ts: 0, principal: "alice@example.com", login: "alice@example.com", node_id: null, node_name: null, tags: [], session_id: null,
      client_session: null, user_agent: null, provider: "anthropic", model: "claude-sonnet-4-6", route: "anthropic.messages", method: "POST",
      path: "/v1/messages", status: 200, duration_ms: 5, ttfb_ms: 1, streamed: false, input_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 0,
      output_tokens: 1, reasoning_tokens: 0, cost_nanos: 1, tool_calls: 0, denial: null, error: null, flags: [],
    };
    const traced = { row, started: performance.now(), clientHeaders: new Headers(), requestedModel: "claude-sonnet-4-6", providerType: "anthropic" as const, summary: null, session: null, knownModel: true };
    for (let i = 0; i < 2; i++) {
      telemetry.ended(traced);
      // A flush waits for the export and passes its failure on; the gateway itself never waits on one.
      await assert.rejects(telemetry.flush(), /ECONNREFUSED/);
    }
    await telemetry.shutdown().catch(() => undefined);
    assert.equal(reports.length, 1, reports.join("\n"));
    assert.match(reports[0]!, /OpenTelemetry trace export/);
    assert.ok(!reports[0]!.includes(COLLECTOR_TOKEN));
  });
});

describe("span attributes of a CI session's request", () => {
  it("name the session, repository, PR, workflow and run", async () => {
    const { spanAttributes } = await import("../../gateway/telemetry/attributes.js");
    const row: RequestRow = {
      id: "req_ci", ts: 0, principal: "tag:ci,tag:ci-acme-api", login: null, node_id: "n1", node_name: null, tags: ["tag:ci", "tag:ci-acme-api"], session_id: "ses_1",
      client_session: "agent-session-7", user_agent: null, provider: "bedrock-eu", model: "us.anthropic.claude-sonnet-4-6-v1:0", route: "bedrock.converse", method: "POST",
      path: "/model/x/converse", status: 200, duration_ms: 5, ttfb_ms: 1, streamed: false, input_tokens: 10, cache_read_tokens: 100, cache_write_tokens: 5,
      output_tokens: 3, reasoning_tokens: 0, cost_nanos: 2_500_000, tool_calls: 1, denial: null, error: null, flags: ["fallback"],
    };
    const session = { id: "ses_1", repository: "acme/api", repositoryId: "42", prNumber: 17, workflow: "review", runId: "9001" };
    const summary = { model: "claude-sonnet-4-6", usage: { input: 10, cacheRead: 100, cacheWrite: 5, output: 3, reasoning: 0 }, toolCalls: [], stopReason: "tool_use" };
    const a = spanAttributes({ row, started: 0, clientHeaders: new Headers(), requestedModel: "claude-sonnet", providerType: "bedrock", summary, session, knownModel: true });
    assert.equal(a["gen_ai.provider.name"], "aws.bedrock");
    assert.equal(a["gen_ai.usage.input_tokens"], 115, "cached input counted as input, as the conventions do");
    assert.equal(a["gen_ai.usage.cache_read.input_tokens"], 100);
    assert.equal(a["gen_ai.conversation.id"], "agent-session-7");
    assert.equal(a["keyless.session.id"], "ses_1");
    assert.equal(a["keyless.repository"], "acme/api");
    assert.equal(a["keyless.pr"], 17);
    assert.equal(a["keyless.workflow"], "review");
    assert.equal(a["keyless.run.id"], "9001");
    assert.equal(a["keyless.cost_usd"], 0.0025);
    assert.deepEqual(a["keyless.flags"], ["fallback"]);
  });
});
