// local-proxy: a detached forwarder on 127.0.0.1 that later steps' agents use; it streams, and post stops it.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { createForwarder } from "../../action/proxy.js";
import { startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { sseResponse } from "../fakes/upstream.js";
import { RUNNER_NODE, runClaims, startGateway, type TestGateway } from "./gateway.js";
import { exited, newJob, runStep } from "./runner.js";
import { ANTHROPIC_STREAM, OPENAI_CHAT, runSdk } from "./sdk.js";

let issuer: FakeOidcIssuer;
let gateway: TestGateway;

before(async () => {
  issuer = await startOidcIssuer({ endpointClaims: runClaims("push") });
  gateway = await startGateway({ issuer });
});
after(async () => {
  await gateway.close();
  await issuer.close();
});

describe("local-proxy: true", () => {
  const job = newJob();
  let main: Awaited<ReturnType<typeof runStep>>;
  let proxyUrl: string;

  before(async () => {
    main = await runStep("main", job, {
      inputs: { gateway: gateway.url, join: "none", "local-proxy": "true" },
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken },
    });
    proxyUrl = main.outputs["base-url"] ?? "";
  });

  test("starts the proxy and points every agent at it", () => {
    assert.equal(main.code, 0, main.log);
    assert.match(proxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(proxyUrl, gateway.url);
    assert.equal(main.exported.ANTHROPIC_BASE_URL, proxyUrl);
    assert.equal(main.exported.OPENAI_BASE_URL, `${proxyUrl}/v1`);
    assert.equal(main.exported.GOOGLE_GEMINI_BASE_URL, proxyUrl);
    assert.equal(main.outputs["gemini-base-url"], proxyUrl);
    assert.ok(Number(main.state.proxy_pid) > 0);
    assert.deepEqual(main.warnings, []);
  });

  test("the Anthropic SDK, given only the exported environment, streams through it as the gateway sends", async () => {
    // The provider answers slowly, event by event; every hop (gateway, local proxy) must pass each one on at once.
    gateway.harness.upstream.once(/\/v1\/messages/, () => sseResponse(slowAnthropicStream(), { chunkDelayMs: 150 }));
    const r = await runSdk(ANTHROPIC_STREAM, main.exported, job.home);
    assert.equal(r.code, 0, r.stderr);
    const first = r.lines.find((l) => l.event === "message_start")!;
    const done = r.lines.find((l) => "done" in l)!;
    assert.equal(done.done, "hello from keyless");
    assert.ok((done.at as number) - (first.at as number) >= 600, `not streamed: ${JSON.stringify(r.lines)}`);
    const rows = await gateway.requests(main.outputs["session-id"]!);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.node_id, RUNNER_NODE);
  });

  test("the OpenAI SDK, given only the exported environment, reaches the gateway through it", async () => {
    const r = await runSdk(OPENAI_CHAT, main.exported, job.home);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.lines[0]?.model, "gpt-5-mini");
    assert.equal((await gateway.requests(main.outputs["session-id"]!)).length, 2);
  });

  test("post stops it", async () => {
    const pid = Number(main.state.proxy_pid);
    const post = await runStep("post", job, {});
    assert.equal(post.code, 0, post.log);
    assert.deepEqual(post.warnings, []);
    await waitUntilRefused(proxyUrl);
    assert.equal(await exited(pid), true);
  });
});

describe("the forwarder", () => {
  test("keeps the gateway's path prefix and answers 502 in keyless's error shape when the gateway is down", async () => {
    const seen: string[] = [];
    const upstream = (await import("node:http")).createServer((req, res) => {
      seen.push(req.url ?? "");
      res.end("ok");
    });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
    const upPort = (upstream.address() as { port: number }).port;
    const fwd = createForwarder(`http://127.0.0.1:${upPort}/prefix`);
    await new Promise<void>((r) => fwd.listen(0, "127.0.0.1", r));
    const port = (fwd.address() as { port: number }).port;
    try {
      assert.deepEqual(await get(port, "/v1/models?x=1"), { status: 200, body: "ok" });
      assert.deepEqual(seen, ["/prefix/v1/models?x=1"]);
      await new Promise((r) => upstream.close(r));
      const down = await get(port, "/v1/models");
      assert.equal(down.status, 502);
      assert.equal(JSON.parse(down.body).error.code, "proxy_upstream_error");
    } finally {
      fwd.close();
      fwd.closeAllConnections();
      upstream.closeAllConnections();
    }
  });
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end();
  });
}

/** Resolves once nothing listens at `url` any more; rejects if it still answers after 3 s. */
async function waitUntilRefused(url: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(500) });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} is still answering`);
}

/** An Anthropic Messages stream of one text block, one SSE event per chunk. */
function slowAnthropicStream(): string {
  const events: [string, unknown][] = [
    ["message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "claude-sonnet-4-6", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 0 } } }],
    ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
    ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hello " } }],
    ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "from keyless" } }],
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 4 } }],
    ["message_stop", { type: "message_stop" }],
  ];
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join("");
}
