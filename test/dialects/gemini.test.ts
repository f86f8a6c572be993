import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GoogleGenAI } from "@google/genai";
import { setGlobalDispatcher, getGlobalDispatcher } from "undici";
import { type Harness, KEYS, sourceAgent, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

describe("Gemini through the gateway", () => {
  let h: Harness;
  const previous = getGlobalDispatcher();
  before(async () => {
    h = await startHarness({ peers: { "127.0.0.4": { login: "gina@example.com" } } });
    // @google/genai takes no custom fetch: route this file's connections from 127.0.0.4.
    setGlobalDispatcher(sourceAgent("127.0.0.4"));
  });
  after(async () => {
    setGlobalDispatcher(previous);
    await h.close();
  });

  const client = () => new GoogleGenAI({ apiKey: "placeholder", httpOptions: { baseUrl: h.gateway.url } });
  const lastRow = () => waitFor(async () => (await h.gateway.requestLog.list({ limit: 1 }))[0], 3000, "row");

  it("generateContent returns the function call and logs usage", async () => {
    const res = await client().models.generateContent({ model: "gemini-3.8-flash", contents: "run it" });
    assert.equal(res.functionCalls?.[0]?.name, "run_shell_command");
    assert.deepEqual(res.functionCalls?.[0]?.args, { command: "echo hello", description: "fake test" });
    const upstream = h.upstream.requests.at(-1)!;
    assert.equal(upstream.headers["x-goog-api-key"], KEYS.gemini);
    assert.ok(!upstream.query.includes("placeholder"));
    await h.gateway.requestLog.flush();
    const row = await lastRow();
    assert.equal(row.principal, "gina@example.com");
    assert.equal(row.input_tokens, 20);
    assert.equal(row.output_tokens, 5);
    // gemini-3.8-flash: $0.75 in, $3.75 out per Mtok
    assert.equal(row.cost_nanos, 20 * 750 + 5 * 3750);
  });

  it("streamGenerateContent (alt=sse) streams and is logged as streamed", async () => {
    const names: string[] = [];
    for await (const chunk of await client().models.generateContentStream({ model: "gemini-3.8-flash", contents: "go" })) {
      for (const call of chunk.functionCalls ?? []) names.push(call.name ?? "");
    }
    assert.deepEqual(names, ["run_shell_command"]);
    await h.gateway.requestLog.flush();
    const row = await waitFor(async () => (await h.gateway.requestLog.list({ limit: 5 })).find((r) => r.streamed), 3000, "streamed row");
    assert.equal(row.tool_calls, 1);
    assert.equal(row.output_tokens, 5);
  });

  it("countTokens is free", async () => {
    const res = await client().models.countTokens({ model: "gemini-3.8-flash", contents: "x" });
    assert.equal(res.totalTokens, 42);
    await h.gateway.requestLog.flush();
    assert.equal((await lastRow()).cost_nanos, 0);
  });
});
