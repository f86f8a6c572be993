import assert from "node:assert/strict";
import { all } from "../helpers/store.js";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from "@aws-sdk/client-bedrock-runtime";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { RequestRow } from "../../gateway/store/requests.js";
import { type CloudRecord, type FakeCloud, startFakeCloud } from "../fakes/cloud-upstream.js";
import { captureBytes, captureJson } from "../fakes/fixtures.js";
import { type Harness, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

/** The gateway's AWS identity (canaries: never in a response, a row or a capture). */
const AWS = {
  accessKeyId: "AKIAKEYLESSGATEWAY01",
  secretAccessKey: "CANARY-aws-secret-0123456789abcdef",
  sessionToken: "CANARY-aws-session-token-0123456789abcdef",
  region: "us-east-1",
  apiKey: "CANARY-bedrock-apikey-0123456789abcdef",
};
/** What the client holds: it must never reach AWS. */
const CLIENT = { accessKeyId: "AKIACLIENTSHOULDNOT1", secretAccessKey: "client-secret-should-not-travel", sessionToken: "client-session-token-should-not-travel" };

const SONNET = "us.anthropic.claude-sonnet-4-6-v1:0";
const ARN = "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123xyz";
const INVOKE_BIN = captureBytes("fixtures/bedrock-invoke-with-response-stream-tool_use.eventstream.bin");

describe("Amazon Bedrock through the gateway", () => {
  let cloud: FakeCloud;
  let h: Harness;
  const agent = new http.Agent({ keepAlive: true, localAddress: "127.0.0.2" });

  before(async () => {
    cloud = await startFakeCloud({ aws: AWS });
    const bedrock = { type: "bedrock", region: "us-east-1", baseurl: cloud.url, control_baseurl: cloud.url };
    h = await startHarness({
      peers: { "127.0.0.2": { login: "alice@example.com", nodeId: "nALICE" }, "127.0.0.3": { login: "mallory@example.com" } },
      config: (up) => ({
        providers: {
          ...defaultProviders(up),
          bedrock: {
            ...bedrock,
            credentials: { access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey, session_token: AWS.sessionToken },
            models: ["us.anthropic.*", "global.anthropic.*", "anthropic.*", "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/*"],
          },
          "bedrock-apikey": { ...bedrock, credentials: { api_key: AWS.apiKey }, models: ["eu.anthropic.*"] },
          "bedrock-chain": { ...bedrock, credentials: "chain", models: ["us.amazon.*"] },
          "bedrock-wrong": { ...bedrock, credentials: { access_key_id: AWS.accessKeyId, secret_access_key: "wrong-secret", session_token: AWS.sessionToken }, models: ["apac.anthropic.*"] },
        },
        grants: [{ src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } }],
        prices: { "bedrock/arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/*": { input: 3, output: 15 } },
      }),
    });
  });
  after(async () => {
    agent.destroy();
    await h.close();
    await cloud.close();
  });

  const aws = (localAddress = agent) =>
    new BedrockRuntimeClient({
      region: "us-east-1",
      endpoint: `${h.gateway.url}/bedrock`,
      credentials: CLIENT,
      // The SDK's default HTTP/2 handler fails against plain HTTP (npm-notes); Claude Code uses HTTP/1.1 too.
      requestHandler: new NodeHttpHandler({ httpAgent: localAddress }),
      maxAttempts: 1,
    });
  const lastUpstream = (): CloudRecord => cloud.requests.at(-1)!;
  const rowFor = (pred: (r: RequestRow) => boolean, what: string) =>
    waitFor(async () => (await h.gateway.requestLog.list({ limit: 100 })).find(pred), 3000, what);
  const toolRows = async (requestId: string) =>
    (await all(h.gateway.store, "SELECT call_id, name, command, arguments FROM tool_calls WHERE request_id = ? ORDER BY position", requestId)) as {
      call_id: string;
      name: string;
      command: string | null;
      arguments: string;
    }[];

  /** The upstream call carries the gateway's signature and nothing of the client's credentials. */
  function assertGatewaySigned(rec: CloudRecord): void {
    assert.match(rec.headers.authorization ?? "", /^AWS4-HMAC-SHA256 Credential=AKIAKEYLESSGATEWAY01\/\d{8}\/us-east-1\/bedrock\/aws4_request, /);
    assert.equal(rec.headers["x-amz-security-token"], AWS.sessionToken);
    const all = JSON.stringify(rec.headers);
    for (const secret of [CLIENT.accessKeyId, CLIENT.sessionToken, "x-api-key"]) assert.ok(!all.includes(secret), `${secret} reached AWS`);
  }

  it("ConverseStream: the AWS SDK gets every event; usage, tool call and cost are logged", async () => {
    const res = await aws().send(
      new ConverseStreamCommand({
        modelId: SONNET,
        messages: [{ role: "user", content: [{ text: "run echo" }] }],
        toolConfig: { tools: [{ toolSpec: { name: "bash", description: "run", inputSchema: { json: { type: "object", properties: { command: { type: "string" } } } } } }] },
      }),
    );
    const events: ConverseStreamOutput[] = [];
    for await (const e of res.stream!) events.push(e);
    assert.equal(events[1]?.contentBlockStart?.start?.toolUse?.name, "bash");
    const input = events.map((e) => e.contentBlockDelta?.delta?.toolUse?.input ?? "").join("");
    assert.deepEqual(JSON.parse(input), { command: "echo hello" });
    assert.equal(events.at(-1)?.metadata?.usage?.outputTokens, 7);

    const rec = lastUpstream();
    // The AWS SDK encodes ":" as %3A; the gateway forwards (and signs) that one encoding.
    assert.equal(rec.rawTarget, "/model/us.anthropic.claude-sonnet-4-6-v1%3A0/converse-stream");
    assertGatewaySigned(rec);

    const row = await rowFor((r) => r.route === "bedrock.converse" && r.streamed, "converse-stream row");
    assert.equal(row.provider, "bedrock");
    assert.equal(row.model, SONNET);
    assert.equal(row.status, 200);
    assert.equal(row.input_tokens, 12);
    assert.equal(row.output_tokens, 7);
    assert.equal(row.tool_calls, 1);
    // us. profiles are priced as regional (+10%): $3.3 / $16.5 per Mtok.
    assert.equal(row.cost_nanos, 12 * 3300 + 7 * 16500);
    const [call] = await toolRows(row.id);
    assert.equal(call?.call_id, "tooluse_fake01");
    assert.equal(call?.name, "bash");
    assert.equal(call?.command, "echo hello");
  });

  it("Converse: the tool call and usage of a whole response", async () => {
    const res = await aws().send(new ConverseCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "hi" }] }] }));
    assert.deepEqual(res.output?.message?.content?.[0]?.toolUse, { toolUseId: "tooluse_fake02", name: "bash", input: { command: "echo hello" } });
    assertGatewaySigned(lastUpstream());
    const row = await rowFor((r) => r.route === "bedrock.converse" && !r.streamed, "converse row");
    assert.equal(row.input_tokens, 12);
    assert.equal(row.tool_calls, 1);
    assert.equal(row.cost_nanos, 12 * 3300 + 7 * 16500);
  });

  it("InvokeModelWithResponseStream: bytes pass unchanged, the base64 Anthropic events are read for usage and tools", async () => {
    const res = await aws().send(
      new InvokeModelWithResponseStreamCommand({
        modelId: SONNET,
        contentType: "application/json",
        accept: "application/json",
        body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }),
      }),
    );
    const events: { type: string; [k: string]: unknown }[] = [];
    for await (const e of res.body!) events.push(JSON.parse(Buffer.from(e.chunk!.bytes!).toString("utf8")));
    assert.equal(events[0]?.type, "message_start");
    assert.deepEqual((events.at(-1) as { "amazon-bedrock-invocationMetrics"?: unknown })["amazon-bedrock-invocationMetrics"], {
      inputTokenCount: 12,
      outputTokenCount: 7,
      invocationLatency: 100,
      firstByteLatency: 50,
    });
    const rec = lastUpstream();
    assert.equal(rec.headers["x-amzn-bedrock-accept"], "application/json");
    assertGatewaySigned(rec);
    const row = await rowFor((r) => r.route === "bedrock.invoke" && r.streamed, "invoke stream row");
    assert.equal(row.input_tokens, 12);
    // Cumulative message_delta usage: 7, not 1 + 7.
    assert.equal(row.output_tokens, 7);
    assert.equal(row.tool_calls, 1);
    assert.equal(row.cost_nanos, 12 * 3300 + 7 * 16500);
    const [call] = await toolRows(row.id);
    assert.equal(call?.name, "Bash");
    assert.equal(call?.command, "echo hello");
  });

  it("InvokeModel: a whole Anthropic message", async () => {
    const res = await aws().send(
      new InvokeModelCommand({ modelId: SONNET, body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }) }),
    );
    const message = JSON.parse(Buffer.from(res.body).toString("utf8")) as { content: { type: string }[] };
    assert.equal(message.content[0]?.type, "tool_use");
    assertGatewaySigned(lastUpstream());
    const row = await rowFor((r) => r.route === "bedrock.invoke" && !r.streamed, "invoke row");
    assert.equal(row.output_tokens, 5);
    assert.equal(row.tool_calls, 1);
  });

  it("Anthropic's Bedrock SDK (raw ':' in the path) streams through, re-signed", async () => {
    const client = new AnthropicBedrock({
      awsAccessKey: CLIENT.accessKeyId,
      awsSecretKey: CLIENT.secretAccessKey,
      awsSessionToken: CLIENT.sessionToken,
      awsRegion: "us-east-1",
      baseURL: `${h.gateway.url}/bedrock`,
      fetch: h.fetchFrom("127.0.0.2"),
      maxRetries: 0,
    });
    const final = await client.messages.stream({ model: "global.anthropic.claude-sonnet-4-6-v1:0", max_tokens: 50, messages: [{ role: "user", content: "hi" }] }).finalMessage();
    const block = final.content[0];
    assert.ok(block?.type === "tool_use");
    assert.deepEqual(block.input, { command: "echo hello", description: "fake test command" });
    const rec = lastUpstream();
    assert.equal(rec.rawTarget, "/model/global.anthropic.claude-sonnet-4-6-v1%3A0/invoke-with-response-stream");
    assert.equal(rec.modelId, "global.anthropic.claude-sonnet-4-6-v1:0");
    // The body (anthropic_version in it, no model) is forwarded as the SDK wrote it.
    const body = JSON.parse(rec.body) as Record<string, unknown>;
    assert.equal(body.model, undefined);
    assert.equal(typeof body.anthropic_version, "string");
    assertGatewaySigned(rec);
    const row = await rowFor((r) => r.model === "global.anthropic.claude-sonnet-4-6-v1:0", "global row");
    // Global profiles carry the base price: $3 / $15.
    assert.equal(row.cost_nanos, 12 * 3000 + 7 * 15000);

    const whole = await client.messages.create({ model: SONNET, max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    assert.equal(whole.stop_reason, "tool_use");
    assert.equal(lastUpstream().rawTarget, "/model/us.anthropic.claude-sonnet-4-6-v1%3A0/invoke");
  });

  it("Claude Code's Bedrock-mode request: x-api-key dropped, the event-stream bytes reach it unchanged", async () => {
    const captured = captureJson<{ headers: Record<string, string>; body: unknown }>("claude-code/bedrock.2.POST-invoke-with-response-stream.json");
    const headers = new Headers(Object.entries(captured.headers).filter(([k]) => !["host", "content-length", "connection", "accept-encoding"].includes(k)));
    const sent = JSON.stringify(captured.body);
    const res = await h.fetchFrom("127.0.0.2")(`${h.gateway.url}/bedrock/model/${SONNET}/invoke-with-response-stream`, { method: "POST", headers, body: sent });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/vnd.amazon.eventstream");
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(INVOKE_BIN), "event-stream bytes changed on the way");
    const rec = lastUpstream();
    assert.equal(rec.body, sent);
    assert.equal(rec.headers["x-api-key"], undefined);
    assert.equal(rec.headers["anthropic-beta"], "claude-code-20250219");
    assertGatewaySigned(rec);
    const row = await rowFor((r) => r.client_session === captured.headers["x-claude-code-session-id"], "claude code row");
    assert.equal(row.tool_calls, 1);
  });

  it("takes ARNs (URL-encoded, as the AWS SDK sends them) and prices them by override", async () => {
    await aws().send(new InvokeModelCommand({ modelId: ARN, body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }) }));
    const rec = lastUpstream();
    assert.equal(rec.rawTarget, `/model/${encodeURIComponent(ARN)}/invoke`);
    assert.equal(rec.modelId, ARN);
    assertGatewaySigned(rec);
    const row = await rowFor((r) => r.model === ARN, "arn row");
    assert.equal(row.cost_nanos, 12 * 3000 + 5 * 15000);
  });

  it("sends a Bedrock API key as a bearer token, unsigned", async () => {
    await aws().send(new ConverseCommand({ modelId: "eu.anthropic.claude-sonnet-4-6-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] }));
    const rec = lastUpstream();
    assert.equal(rec.headers.authorization, `Bearer ${AWS.apiKey}`);
    assert.equal(rec.headers["x-amz-date"], undefined);
    assert.equal(rec.headers["x-amz-security-token"], undefined);
  });

  it("signs with credentials from the default AWS chain (here: the environment)", async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, token: process.env.AWS_SESSION_TOKEN };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: AWS.accessKeyId, AWS_SECRET_ACCESS_KEY: AWS.secretAccessKey, AWS_SESSION_TOKEN: AWS.sessionToken });
    try {
      const res = await aws().send(new ConverseCommand({ modelId: "us.amazon.nova-lite-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] }));
      assert.equal(res.stopReason, "tool_use");
      assertGatewaySigned(lastUpstream());
    } finally {
      for (const [name, value] of [["AWS_ACCESS_KEY_ID", saved.id], ["AWS_SECRET_ACCESS_KEY", saved.secret], ["AWS_SESSION_TOKEN", saved.token]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    const row = await rowFor((r) => r.model === "us.amazon.nova-lite-v1:0", "chain row");
    assert.equal(row.provider, "bedrock-chain");
    assert.ok(row.cost_nanos !== null && row.cost_nanos > 0, "nova-lite is in the aws price table");
  });

  it("the fake refuses a wrong signature the way AWS does, and the client sees AWS's error", async () => {
    await assert.rejects(
      aws().send(new ConverseCommand({ modelId: "apac.anthropic.claude-sonnet-4-6-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] })),
      (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.name, "InvalidSignatureException");
        assert.match(err.message, /^The request signature we calculated does not match/);
        assert.equal(err.$metadata?.httpStatusCode, 403);
        return true;
      },
    );
    const row = await rowFor((r) => r.model === "apac.anthropic.claude-sonnet-4-6-v1:0", "wrong-signature row");
    assert.equal(row.status, 403);
    assert.equal(row.cost_nanos, 0);
  });

  it("the fake's verifier agrees with the AWS SDK's and Anthropic's signers (checked directly, no gateway)", async () => {
    const direct = new BedrockRuntimeClient({ region: "us-east-1", endpoint: cloud.url, credentials: AWS, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
    const res = await direct.send(new ConverseCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "hi" }] }] }));
    assert.equal(res.stopReason, "tool_use");
    const anthropic = new AnthropicBedrock({ awsAccessKey: AWS.accessKeyId, awsSecretKey: AWS.secretAccessKey, awsSessionToken: AWS.sessionToken, awsRegion: "us-east-1", baseURL: cloud.url, maxRetries: 0 });
    assert.equal((await anthropic.messages.create({ model: SONNET, max_tokens: 5, messages: [{ role: "user", content: "hi" }] })).stop_reason, "tool_use");
    const wrong = new BedrockRuntimeClient({ region: "us-east-1", endpoint: cloud.url, credentials: { ...AWS, secretAccessKey: "nope" }, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
    await assert.rejects(wrong.send(new ConverseCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "hi" }] }] })), { name: "InvalidSignatureException" });
  });

  it("refuses in Bedrock's own error shape (x-amzn-ErrorType + message)", async () => {
    await assert.rejects(aws().send(new ConverseCommand({ modelId: "cohere.command-r-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] })), (err: Error) => {
      assert.equal(err.name, "ResourceNotFoundException");
      assert.match(err.message, /not served by any provider/);
      return true;
    });
    const mallory = new http.Agent({ localAddress: "127.0.0.3" });
    await assert.rejects(aws(mallory).send(new ConverseCommand({ modelId: SONNET, messages: [{ role: "user", content: [{ text: "hi" }] }] })), (err: Error) => {
      assert.equal(err.name, "AccessDeniedException");
      assert.match(err.message, /no role granted/);
      return true;
    });
    mallory.destroy();
  });

  it("ends a stream the upstream breaks with an exception frame the AWS SDK raises", async () => {
    // Three whole frames, then the connection dies.
    let cut = 0;
    for (let i = 0; i < 3; i++) cut += INVOKE_BIN.readUInt32BE(cut);
    cloud.once(/invoke-with-response-stream$/, () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(INVOKE_BIN.subarray(0, cut));
          setTimeout(() => controller.error(new Error("connection reset")), 20);
        },
      });
      return new Response(body, { headers: { "content-type": "application/vnd.amazon.eventstream" } });
    });
    const res = await aws().send(
      new InvokeModelWithResponseStreamCommand({ modelId: SONNET, body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 100, messages: [{ role: "user", content: "cut" }] }) }),
    );
    let chunks = 0;
    await assert.rejects(
      (async () => {
        for await (const e of res.body!) if (e.chunk) chunks++;
      })(),
      (err: Error) => {
        assert.equal(err.name, "InternalServerException");
        assert.match(err.message, /upstream stream broke/);
        return true;
      },
    );
    assert.equal(chunks, 3);
    const row = await rowFor((r) => r.route === "bedrock.invoke" && (r.error ?? "").includes("upstream stream broke"), "broken stream row");
    assert.equal(row.input_tokens, 12);
  });

  it("lists only the inference profiles the caller may use, signed like model calls", async () => {
    const fetchAlice = h.fetchFrom("127.0.0.2");
    for (const prefix of ["/bedrock", ""]) {
      const res = await fetchAlice(`${h.gateway.url}${prefix}/inference-profiles?type=SYSTEM_DEFINED`);
      assert.equal(res.status, 200);
      const { inferenceProfileSummaries } = (await res.json()) as { inferenceProfileSummaries: { inferenceProfileId: string }[] };
      // us.meta.llama… exists in the account but no bedrock provider serves it.
      assert.deepEqual(inferenceProfileSummaries.map((p) => p.inferenceProfileId), [SONNET, "global.anthropic.claude-sonnet-4-6-v1:0"]);
      assert.equal(lastUpstream().rawTarget, "/inference-profiles?type=SYSTEM_DEFINED");
      assertGatewaySigned(lastUpstream());
    }
    const one = await fetchAlice(`${h.gateway.url}/bedrock/inference-profiles/${encodeURIComponent(SONNET)}`);
    assert.equal(((await one.json()) as { inferenceProfileId: string }).inferenceProfileId, SONNET);
    const hidden = await fetchAlice(`${h.gateway.url}/bedrock/inference-profiles/us.meta.llama3-3-70b-instruct-v1%3A0`);
    assert.equal(hidden.status, 404);
    assert.equal(hidden.headers.get("x-amzn-errortype"), "ResourceNotFoundException");
    const denied = await h.fetchFrom("127.0.0.3")(`${h.gateway.url}/bedrock/inference-profiles`);
    assert.equal(denied.status, 403);
    assert.equal(denied.headers.get("x-amzn-errortype"), "AccessDeniedException");
  });

  it("never lets the AWS secrets out", async () => {
    await h.gateway.requestLog.flush();
    for (const row of (await h.gateway.requestLog.list({ limit: 100 }))) {
      const full = (await h.gateway.requestLog.get(row.id))!;
      const text =
        JSON.stringify(full.row) +
        Buffer.from(full.capture?.requestBody ?? []).toString() +
        Buffer.from(full.capture?.responseBody ?? []).toString() +
        JSON.stringify(full.capture?.requestHeaders) +
        JSON.stringify(full.capture?.responseHeaders);
      for (const secret of [AWS.secretAccessKey, AWS.sessionToken, AWS.apiKey, CLIENT.secretAccessKey, CLIENT.sessionToken]) {
        assert.ok(!text.includes(secret), `secret found in row ${row.id}`);
      }
    }
  });
});
