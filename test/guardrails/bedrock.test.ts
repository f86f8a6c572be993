// Blocking on Amazon Bedrock: InvokeModel (Anthropic events base64-wrapped in event-stream chunks, as Claude Code's
// Bedrock mode reads them) and Converse, checked with Anthropic's Bedrock SDK and the AWS SDK.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, type ConverseStreamOutput } from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { EVENTSTREAM_CONTENT_TYPE, encodeMessage } from "../../gateway/stream/eventstream.js";
import { listToolCalls } from "../../gateway/store/tool-calls.js";
import { type FakeCloud, bedrockInvokeFrames, chunked, startFakeCloud } from "../fakes/cloud-upstream.js";
import { type Harness, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { anthropicStream } from "./responses.js";

const AWS = { accessKeyId: "AKIAKEYLESSGATEWAY01", secretAccessKey: "CANARY-aws-secret-0123456789abcdef", sessionToken: "CANARY-aws-session", region: "us-east-1" };
const CLIENT = { accessKeyId: "AKIACLIENTSHOULDNOT1", secretAccessKey: "client-secret", sessionToken: "client-token" };
const SONNET = "us.anthropic.claude-sonnet-4-6-v1:0";
const RM = "rm -rf ~";

function frames(events: readonly { name: string; payload: unknown }[]): Uint8Array {
  return Buffer.concat(events.map((e) => encodeMessage({ name: e.name, data: JSON.stringify(e.payload) })));
}

describe("blocking on Bedrock", () => {
  let cloud: FakeCloud;
  let h: Harness;
  const agent = new http.Agent({ keepAlive: true, localAddress: "127.0.0.2" });
  before(async () => {
    cloud = await startFakeCloud({ aws: AWS });
    h = await startHarness({
      peers: { "127.0.0.2": { login: "alice@example.com" } },
      config: (up) => ({
        providers: {
          ...defaultProviders(up),
          bedrock: {
            type: "bedrock",
            region: "us-east-1",
            baseurl: cloud.url,
            control_baseurl: cloud.url,
            credentials: { access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey, session_token: AWS.sessionToken },
            models: ["us.anthropic.*", "global.anthropic.*"],
          },
        },
        grants: [{ src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**", guardrails: { destructive_fs: "block" } }] } }],
      }),
    });
  });
  after(async () => {
    agent.destroy();
    await h.close();
    await cloud.close();
  });

  const aws = () =>
    new BedrockRuntimeClient({
      region: "us-east-1",
      endpoint: `${h.gateway.url}/bedrock`,
      credentials: CLIENT,
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
      maxAttempts: 1,
    });
  const blockedRow = (callId: string) =>
    waitFor(async () => {
      await h.gateway.requestLog.flush();
      return (await listToolCalls(h.gateway.store, { principal: "alice@example.com" })).find((r) => r.call_id === callId);
    }, 3000, `row ${callId}`);

  it("InvokeModelWithResponseStream (Anthropic's Bedrock SDK): the Bash block becomes text, end_turn", async () => {
    const body = bedrockInvokeFrames(
      await anthropicStream(SONNET, [{ id: "toolu_brm", name: "Bash", input: { command: RM } }, { id: "toolu_bok", name: "Bash", input: { command: "ls" } }], "On it.").text(),
      { p: "abcdefgh" },
    );
    cloud.once(/invoke-with-response-stream$/, () => chunked(body, 50, EVENTSTREAM_CONTENT_TYPE));
    const client = new AnthropicBedrock({
      awsAccessKey: CLIENT.accessKeyId,
      awsSecretKey: CLIENT.secretAccessKey,
      awsSessionToken: CLIENT.sessionToken,
      awsRegion: "us-east-1",
      baseURL: `${h.gateway.url}/bedrock`,
      fetch: h.fetchFrom("127.0.0.2"),
      maxRetries: 0,
    });
    const final = await client.messages.stream({ model: SONNET, max_tokens: 50, messages: [{ role: "user", content: "clean" }] }).finalMessage();
    assert.deepEqual(final.content.map((b) => b.type), ["text", "text", "tool_use"]);
    assert.match(final.content[1]?.type === "text" ? final.content[1].text : "", /blocked the tool call "Bash" \(rm -rf ~\)/);
    assert.equal(final.stop_reason, "tool_use", "the safe call is still there to run");
    assert.equal((await blockedRow("toolu_brm")).action, "block");
    assert.equal((await blockedRow("toolu_bok")).action, "log");
  });

  it("ConverseStream (AWS SDK): a text delta replaces the toolUse block, stopReason end_turn", async () => {
    const body = frames([
      { name: "messageStart", payload: { role: "assistant", p: "ab" } },
      { name: "contentBlockStart", payload: { contentBlockIndex: 0, start: { toolUse: { toolUseId: "tooluse_rm", name: "bash" } }, p: "ab" } },
      { name: "contentBlockDelta", payload: { contentBlockIndex: 0, delta: { toolUse: { input: '{"command":' } }, p: "ab" } },
      { name: "contentBlockDelta", payload: { contentBlockIndex: 0, delta: { toolUse: { input: `"${RM}"}` } }, p: "ab" } },
      { name: "contentBlockStop", payload: { contentBlockIndex: 0, p: "ab" } },
      { name: "messageStop", payload: { stopReason: "tool_use", p: "ab" } },
      { name: "metadata", payload: { usage: { inputTokens: 12, outputTokens: 7, totalTokens: 19 }, metrics: { latencyMs: 100 }, p: "ab" } },
    ]);
    cloud.once(/converse-stream$/, () => chunked(body, "frame", EVENTSTREAM_CONTENT_TYPE));
    const res = await aws().send(new ConverseStreamCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "clean" }] }] }));
    const events: ConverseStreamOutput[] = [];
    for await (const e of res.stream!) events.push(e);
    assert.equal(events.find((e) => e.contentBlockStart), undefined);
    assert.ok(events.every((e) => !e.contentBlockDelta?.delta?.toolUse));
    assert.match(events.map((e) => e.contentBlockDelta?.delta?.text ?? "").join(""), /blocked the tool call "bash" \(rm -rf ~\)/);
    assert.equal(events.find((e) => e.messageStop)?.messageStop?.stopReason, "end_turn");
    assert.equal(events.at(-1)?.metadata?.usage?.outputTokens, 7);
    assert.equal((await blockedRow("tooluse_rm")).action, "block");
  });

  it("Converse (AWS SDK): the toolUse content block becomes text", async () => {
    cloud.once(/\/converse$/, () =>
      new Response(
        JSON.stringify({
          output: { message: { role: "assistant", content: [{ toolUse: { toolUseId: "tooluse_rm2", name: "bash", input: { command: RM } } }] } },
          stopReason: "tool_use",
          usage: { inputTokens: 12, outputTokens: 7, totalTokens: 19 },
          metrics: { latencyMs: 100 },
        }),
        { headers: { "content-type": "application/json" } },
      ),
    );
    const res = await aws().send(new ConverseCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "x" }] }] }));
    assert.equal(res.stopReason, "end_turn");
    assert.equal(res.output?.message?.content?.[0]?.toolUse, undefined);
    assert.match(res.output?.message?.content?.[0]?.text ?? "", /it was not run/);
    assert.equal((await blockedRow("tooluse_rm2")).action, "block");
  });
});
