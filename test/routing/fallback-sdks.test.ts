// Fallback across two keys of one provider with the OpenAI and Gemini SDKs, through the real HTTP server, against an
// upstream that fails on cue in each provider's shape. A route's target of another model family (an Anthropic model
// behind an OpenAI one, an OpenAI one behind Gemini) is skipped, never translated, and the row's attempts say why.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import OpenAI from "openai";
import { GoogleGenAI } from "@google/genai";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { type FailingUpstream, startFailingUpstream } from "../fakes/failing-upstream.js";
import { FINAL_TEXT } from "../fakes/replies.js";
import { type Harness, sourceAgent, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const OPENAI_A = "sk-CANARY-openai-a-0123456789abcdef";
const OPENAI_B = "sk-CANARY-openai-b-0123456789abcdef";
const GEMINI_A = "AIzaCANARY-gemini-a-0123456789abcdef";
const GEMINI_B = "AIzaCANARY-gemini-b-0123456789abcdef";
const ANTHROPIC = "sk-ant-CANARY-anthropic-0123456789abcdef";
const ADMIN = "127.0.0.5";
const GPT = "gpt-5.5";
const GEMINI = "gemini-2.5-flash";

/** [provider, key, outcome, status, reason] of one attempt. */
type Attempt = readonly (string | number | null)[];

describe("fallback across keys with the OpenAI and Gemini SDKs; other model families skipped", () => {
  let h: Harness;
  let up: FailingUpstream;
  const previous = getGlobalDispatcher();
  before(async () => {
    up = await startFailingUpstream();
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" } },
      config: () => ({
        providers: {
          openai: { type: "openai", baseurl: up.url, keys: [{ name: "a", apikey: OPENAI_A }, { name: "b", apikey: OPENAI_B }], models: ["gpt-*"] },
          gemini: { type: "gemini", baseurl: up.url, keys: [{ name: "a", apikey: GEMINI_A }, { name: "b", apikey: GEMINI_B }], models: ["gemini-*"] },
          anthropic: { type: "anthropic", baseurl: up.url, apikey: ANTHROPIC, models: ["claude-*"] },
        },
        routes: {
          [GPT]: [{ provider: "openai" }, { provider: "anthropic", model: "claude-sonnet-4-6" }],
          [GEMINI]: [{ provider: "gemini" }, { provider: "openai", model: GPT }],
        },
        grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }],
      }),
    });
    // @google/genai takes no custom fetch: this file's connections come from the admin's address.
    setGlobalDispatcher(sourceAgent(ADMIN));
  });
  after(async () => {
    setGlobalDispatcher(previous);
    await h.close();
    await up.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  const openai = () => new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(ADMIN), maxRetries: 0 });
  const attemptsOf = async (id: string): Promise<Attempt[]> => {
    await h.gateway.requestLog.flush();
    const res = await h.fetchFrom(ADMIN)(`${h.gateway.url}/api/requests/${id}/attempts`);
    const { attempts } = (await res.json()) as { attempts: { provider: string; key_name: string | null; outcome: string; status: number | null; reason: string | null }[] };
    return attempts.map((a) => [a.provider, a.key_name, a.outcome, a.status, a.reason]);
  };
  const rowOf = (id: string) =>
    waitFor(async () => {
      await h.gateway.requestLog.flush();
      return (await h.gateway.requestLog.get(id))?.row;
    }, 3000, `row ${id}`);
  const keyName = (key: string | null) => ({ [OPENAI_A]: "a", [OPENAI_B]: "b", [GEMINI_A]: "a", [GEMINI_B]: "b" })[key ?? ""] ?? "?";
  const NOT_TO_ANTHROPIC = ["anthropic", null, "skipped", null, "the openai.responses API does not translate to anthropic"];

  it("OpenAI SDK (Responses): a key answered 429 with retry-after, the other key answers; the Anthropic target is skipped, not translated", async () => {
    up.fail({ kind: "rate_limited", retryAfterSeconds: 5 });
    const { data, response } = await openai().responses.create({ model: GPT, input: "hi" }).withResponse();
    assert.equal(data.output_text, FINAL_TEXT);
    const used = up.requests.map((r) => [r.path, keyName(r.key)]);
    assert.equal(used.length, 2, JSON.stringify(used));
    assert.ok(used.every(([path]) => path === "/v1/responses"), "nothing went to Anthropic's API");
    const [refused, answered] = used.map(([, key]) => key!);
    assert.notEqual(refused, answered);

    const id = response.headers.get("x-keyless-request-id")!;
    const row = await rowOf(id);
    assert.deepEqual([row.provider, row.model, row.status], ["openai", GPT, 200]);
    assert.ok(row.flags.includes("fallback"), row.flags.join());
    assert.ok(row.cost_nanos !== null && row.cost_nanos > 0);
    const attempts = await attemptsOf(id);
    assert.deepEqual(attempts[0], NOT_TO_ANTHROPIC);
    assert.deepEqual(attempts.slice(1).map((a) => a.slice(0, 4)), [["openai", refused, "failed", 429], ["openai", answered, "answered", 200]]);
    assert.match(String(attempts[1]![4]), /^429 requests: rate_limit_exceeded: Rate limit reached/);

    // Streamed, within the retry-after: the resting key gets nothing, the stream is the other key's.
    up.requests.length = 0;
    const streamed = await openai().responses.create({ model: GPT, input: "hi", stream: true }).withResponse();
    const types: string[] = [];
    for await (const event of streamed.data) types.push(event.type);
    assert.equal(types.at(-1), "response.completed");
    assert.deepEqual(up.requests.map((r) => keyName(r.key)), [answered]);
    assert.deepEqual(await attemptsOf(streamed.response.headers.get("x-keyless-request-id")!), [NOT_TO_ANTHROPIC, ["openai", answered, "answered", 200, null]]);
  });

  it("OpenAI SDK: a 503 is the provider's, not the key's; with the only other target skipped, the SDK gets OpenAI's own 503", async () => {
    up.fail({ kind: "overloaded" });
    const err = await openai().responses.create({ model: GPT, input: "hi" }).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.equal(err.status, 503);
    assert.match(err.message, /The engine is currently overloaded/);
    assert.equal(up.requests.length, 1, "one attempt: another key of the same provider is not tried for a 5xx");
    const id = err.headers?.get("x-keyless-request-id");
    assert.ok(id);
    assert.deepEqual((await attemptsOf(id)).map((a) => a.slice(0, 4)), [NOT_TO_ANTHROPIC.slice(0, 4), ["openai", keyName(up.requests[0]!.key), "answered", 503]]);
  });

  it("Gemini SDK: a key answered 429, the other key answers; the OpenAI target is skipped, not translated", async () => {
    up.fail({ kind: "rate_limited", retryAfterSeconds: 5 });
    const client = new GoogleGenAI({ apiKey: "placeholder", httpOptions: { baseUrl: h.gateway.url } });
    const res = await client.models.generateContent({ model: GEMINI, contents: "hi" });
    assert.equal(res.text, FINAL_TEXT);
    const used = up.requests.map((r) => keyName(r.key));
    assert.equal(used.length, 2, used.join());
    assert.notEqual(used[0], used[1]);
    assert.ok(up.requests.every((r) => r.path === `/v1beta/models/${GEMINI}:generateContent`), "nothing went to OpenAI's API");
    await h.gateway.requestLog.flush();
    const [row] = await h.gateway.requestLog.list({ limit: 1 });
    assert.deepEqual([row!.provider, row!.model, row!.status], ["gemini", GEMINI, 200]);
    const attempts = await attemptsOf(row!.id);
    assert.deepEqual(attempts[0]!.slice(0, 4), ["openai", null, "skipped", null]);
    assert.match(String(attempts[0]![4]), /^the \S+ API does not translate to openai$/);
    assert.deepEqual(attempts.slice(1).map((a) => a.slice(0, 4)), [["gemini", used[0], "failed", 429], ["gemini", used[1], "answered", 200]]);
    assert.match(String(attempts[1]![4]), /RESOURCE_EXHAUSTED/);
  });
});
