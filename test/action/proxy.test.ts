// local-proxy: a detached forwarder on 127.0.0.1 that later steps' agents use; it streams, and post stops it.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { createForwarder } from "../../action/proxy.js";
import { eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { startGateway, type TestGateway } from "./gateway.js";
import { exited, newJob, runStep } from "./runner.js";
import { ANTHROPIC_STREAM, OPENAI_CHAT, runSdk } from "./sdk.js";

let issuer: FakeOidcIssuer;
let gateway: TestGateway;

before(async () => {
  issuer = await startOidcIssuer({ endpointClaims: eventClaims("push") });
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
    gateway.streamDelayMs = 150;
    try {
      const r = await runSdk(ANTHROPIC_STREAM, main.exported, job.home);
      assert.equal(r.code, 0, r.stderr);
      const texts = r.lines.filter((l) => "text" in l);
      const done = r.lines.find((l) => "done" in l)!;
      assert.equal(done.done, "hello from keyless");
      // The first delta arrived well before the end: nothing buffered the stream.
      assert.ok((done.at as number) - (texts[0]!.at as number) >= 300, JSON.stringify(r.lines));
    } finally {
      gateway.streamDelayMs = 0;
    }
    const call = gateway.providerCalls.at(-1)!;
    assert.equal(call.path, "/v1/messages");
    // SDK 1.x presents ANTHROPIC_API_KEY as a bearer token; older ones as x-api-key.
    assert.equal(call.headers["x-api-key"] ?? call.headers.authorization?.replace(/^Bearer /, ""), "keyless");
    assert.equal(call.session, main.outputs["session-id"]);
  });

  test("the OpenAI SDK, given only the exported environment, reaches the gateway through it", async () => {
    const r = await runSdk(OPENAI_CHAT, main.exported, job.home);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines, [{ done: "hello from keyless" }]);
    assert.equal(gateway.providerCalls.at(-1)!.path, "/v1/chat/completions");
    assert.equal(gateway.providerCalls.at(-1)!.headers.authorization, "Bearer keyless");
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
