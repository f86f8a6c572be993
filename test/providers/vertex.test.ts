import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import AnthropicVertex from "@anthropic-ai/vertex-sdk";
import { GoogleGenAI } from "@google/genai";
import { OAuth2Client } from "google-auth-library";
import { exportPKCS8, generateKeyPair } from "jose";
import type { RequestRow } from "../../gateway/store/requests.js";
import { type CloudRecord, type FakeCloud, startFakeCloud } from "../fakes/cloud-upstream.js";
import { capture, captureJson } from "../fakes/fixtures.js";
import { type Harness, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { all } from "../helpers/store.js";

const CLIENT_EMAIL = "keyless@cfg-proj.iam.gserviceaccount.com";
const EXPRESS_KEY = "CANARY-vertex-express-0123456789abcdef";
/** What the client holds: it must never reach Google. */
const CLIENT_TOKEN = "ya29.client-token-should-not-travel";
const SONNET = "claude-sonnet-4-6";

/** An OAuth client that already holds a (client-side) token: what an agent's ADC would produce. */
function clientAuth(): OAuth2Client {
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: CLIENT_TOKEN, expiry_date: Date.now() + 3600_000 });
  return auth;
}

describe("Vertex AI through the gateway", () => {
  let cloud: FakeCloud;
  let h: Harness;
  let privateKey = "";

  before(async () => {
    const keys = await generateKeyPair("RS256", { extractable: true });
    privateKey = await exportPKCS8(keys.privateKey);
    const other = await exportPKCS8((await generateKeyPair("RS256", { extractable: true })).privateKey);
    cloud = await startFakeCloud({
      aws: { accessKeyId: "unused", secretAccessKey: "unused", region: "us-east-1" },
      google: { clientEmail: CLIENT_EMAIL, publicKey: keys.publicKey, apiKey: EXPRESS_KEY },
    });
    const serviceAccount = (key: string) => ({ type: "service_account", project_id: "cfg-proj", private_key_id: "kid-1", private_key: key, client_email: CLIENT_EMAIL });
    const saFile = join(mkdtempSync(join(tmpdir(), "keyless-sa-")), "sa.json");
    writeFileSync(saFile, JSON.stringify(serviceAccount(privateKey)));
    const vertex = { type: "vertex", project: "cfg-proj", token_url: cloud.tokenUrl, baseurl: cloud.url };
    h = await startHarness({
      // @google/genai takes no fetch option, so its calls come from 127.0.0.1.
      peers: { "127.0.0.1": { login: "bob@example.com" }, "127.0.0.2": { login: "alice@example.com", nodeId: "nALICE" } },
      config: (up) => ({
        providers: {
          ...defaultProviders(up),
          vertex: { ...vertex, region: "europe-west1", credentials: saFile, models: ["claude-sonnet-*", "gemini-2.5-flash"] },
          "vertex-global": { ...vertex, region: "global", credentials: JSON.stringify(serviceAccount(privateKey)), models: ["claude-haiku-*"] },
          "vertex-short": { ...vertex, region: "us-east5", credentials: saFile, models: ["claude-opus-*"] },
          "vertex-express": { ...vertex, region: "global", credentials: { api_key: EXPRESS_KEY }, models: ["gemini-2.5-flash-lite"] },
          "vertex-badkey": { ...vertex, region: "us-east5", credentials: JSON.stringify(serviceAccount(other)), models: ["claude-3-*"] },
        },
      }),
    });
  });
  after(async () => {
    await h.close();
    await cloud.close();
  });

  const anthropic = (region = "us-east5") =>
    new AnthropicVertex({
      projectId: "client-proj",
      region,
      baseURL: `${h.gateway.url}/v1`,
      authClient: clientAuth(),
      fetch: h.fetchFrom("127.0.0.2"),
      maxRetries: 0,
    });
  const genai = () =>
    new GoogleGenAI({ vertexai: true, project: "client-proj", location: "us-central1", httpOptions: { baseUrl: h.gateway.url }, googleAuthOptions: { authClient: clientAuth() } });
  const lastUpstream = (): CloudRecord => cloud.requests.at(-1)!;
  const rowFor = (pred: (r: RequestRow) => boolean, what: string) =>
    waitFor(async () => (await h.gateway.requestLog.list({ limit: 100 })).find(pred), 3000, what);

  /** The upstream got a token the fake's token endpoint issued, and nothing of the client's credentials. */
  function assertGatewayToken(rec: CloudRecord): void {
    const token = /^Bearer (.+)$/.exec(rec.headers.authorization ?? "")?.[1];
    assert.ok(token && cloud.tokenGrants.includes(token), "upstream bearer was not issued by the token endpoint");
    assert.ok(!JSON.stringify(rec.headers).includes(CLIENT_TOKEN), "client token reached Google");
  }

  it("Claude rawPredict (@anthropic-ai/vertex-sdk): project and region replaced, body passed unchanged", async () => {
    const message = await anthropic().messages.create({ model: SONNET, max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    assert.deepEqual(message, JSON.parse(capture("fixtures/anthropic-messages-tool_use.json")));
    const rec = lastUpstream();
    assert.equal(rec.path, `/v1/projects/cfg-proj/locations/europe-west1/publishers/anthropic/models/${SONNET}:rawPredict`);
    assert.equal(rec.project, "cfg-proj");
    const body = JSON.parse(rec.body) as Record<string, unknown>;
    assert.equal(body.model, undefined);
    assert.equal(typeof body.anthropic_version, "string");
    assertGatewayToken(rec);
    const row = await rowFor((r) => r.route === "vertex.anthropic" && !r.streamed, "rawPredict row");
    assert.equal(row.provider, "vertex");
    assert.equal(row.model, SONNET);
    assert.equal(row.output_tokens, 5);
    assert.equal(row.tool_calls, 1);
  });

  it("Claude streamRawPredict: streamed usage, tool call and cost logged", async () => {
    const final = await anthropic().messages.stream({ model: SONNET, max_tokens: 50, messages: [{ role: "user", content: "run it" }] }).finalMessage();
    const block = final.content[0];
    assert.ok(block?.type === "tool_use");
    assert.deepEqual(block.input, { command: "echo hello", description: "fake test command" });
    assert.match(lastUpstream().path, /\/locations\/europe-west1\/publishers\/anthropic\/models\/claude-sonnet-4-6:streamRawPredict$/);
    assertGatewayToken(lastUpstream());
    const row = await rowFor((r) => r.route === "vertex.anthropic" && r.streamed, "streamRawPredict row");
    assert.equal(row.input_tokens, 12);
    assert.equal(row.output_tokens, 7);
    assert.equal(row.tool_calls, 1);
    // Priced under Google's table: claude-sonnet-4-6 at $3 / $15 per Mtok.
    assert.equal(row.cost_nanos, 12 * 3000 + 7 * 15000);
    const [call] = (await all(h.gateway.store, "SELECT name, command FROM tool_calls WHERE request_id = ?", row.id)) as { name: string; command: string }[];
    assert.deepEqual(call, { name: "Bash", command: "echo hello" });
  });

  it("count-tokens:rawPredict is free", async () => {
    const counted = await anthropic().messages.countTokens({ model: SONNET, messages: [{ role: "user", content: "x" }] });
    assert.equal(counted.input_tokens, 42);
    assert.equal(lastUpstream().path, "/v1/projects/cfg-proj/locations/europe-west1/publishers/anthropic/models/count-tokens:rawPredict");
    const row = await rowFor((r) => r.route === "vertex.anthropic.count_tokens", "count row");
    assert.equal(row.cost_nanos, 0);
  });

  it("the global endpoint and regional ones both work", async () => {
    await anthropic("global").messages.create({ model: "claude-haiku-4-5@20251001", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    assert.equal(lastUpstream().path, "/v1/projects/cfg-proj/locations/global/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict");
    assertGatewayToken(lastUpstream());
  });

  it("Claude Code's Vertex-mode request: x-api-key dropped, SSE bytes unchanged", async () => {
    const captured = captureJson<{ url: string; headers: Record<string, string>; body: unknown }>("claude-code/vertex.1.POST-streamRawPredict.json");
    const headers = new Headers(Object.entries(captured.headers).filter(([k]) => !["host", "content-length", "connection", "accept-encoding"].includes(k)));
    const sent = JSON.stringify(captured.body);
    const res = await h.fetchFrom("127.0.0.2")(h.gateway.url + captured.url, { method: "POST", headers, body: sent });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), capture("fixtures/anthropic-messages-tool_use.sse"));
    const rec = lastUpstream();
    assert.equal(rec.body, sent, "anthropic_version and the rest of the body must pass unchanged");
    assert.equal((JSON.parse(rec.body) as { anthropic_version: string }).anthropic_version, "vertex-2023-10-16");
    assert.equal(rec.project, "cfg-proj");
    assert.equal(rec.headers["x-api-key"], undefined);
    assertGatewayToken(rec);
  });

  it("mints one token and reuses it until shortly before it expires", async () => {
    const before = cloud.tokenGrants.length;
    cloud.setTokenLifetime(2);
    try {
      const call = () => anthropic().messages.create({ model: "claude-opus-4-8@20260101", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
      await Promise.all([call(), call(), call()]);
      assert.equal(cloud.tokenGrants.length, before + 1, "concurrent calls share one token request");
      const first = lastUpstream().headers.authorization;
      // A 2 s token is refreshed after half its life.
      await new Promise((r) => setTimeout(r, 1100));
      await call();
      assert.equal(cloud.tokenGrants.length, before + 2);
      assert.notEqual(lastUpstream().headers.authorization, first);
      assertGatewayToken(lastUpstream());
    } finally {
      cloud.setTokenLifetime(3600);
    }
    const steady = cloud.tokenGrants.length;
    await anthropic().messages.create({ model: SONNET, max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    assert.equal(cloud.tokenGrants.length, steady, "an hour-long token is reused");
  });

  it("a token endpoint refusal becomes a specific 503 in Google's error shape, without the key", async () => {
    const res = await h.fetchFrom("127.0.0.2")(`${h.gateway.url}/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-3-haiku@20240307:rawPredict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ anthropic_version: "vertex-2023-10-16", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: number; message: string; status: string } };
    assert.equal(body.error.status, "UNAVAILABLE");
    assert.match(body.error.message, /provider "vertex-badkey": the Google token endpoint refused the service account \(HTTP 400, invalid_grant/);
    assert.ok(!JSON.stringify(body).includes("PRIVATE KEY"));
  });

  it("Gemini on Vertex (@google/genai, v1beta1): generateContent and the stream, usage and tool call logged", async () => {
    const ai = genai();
    const res = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    assert.equal(res.functionCalls?.[0]?.name, "run_shell_command");
    let rec = lastUpstream();
    assert.equal(rec.path, "/v1beta1/projects/cfg-proj/locations/europe-west1/publishers/google/models/gemini-2.5-flash:generateContent");
    assertGatewayToken(rec);

    const chunks = [];
    for await (const chunk of await ai.models.generateContentStream({ model: "gemini-2.5-flash", contents: "hi" })) chunks.push(chunk);
    assert.equal(chunks[0]?.functionCalls?.[0]?.args?.command, "echo hello");
    rec = lastUpstream();
    assert.equal(rec.path, "/v1beta1/projects/cfg-proj/locations/europe-west1/publishers/google/models/gemini-2.5-flash:streamGenerateContent");
    assert.equal(rec.query, "?alt=sse");
    const row = await rowFor((r) => r.route === "vertex.gemini.generate" && r.streamed, "gemini stream row");
    assert.equal(row.principal, "bob@example.com");
    assert.equal(row.input_tokens, 20);
    assert.equal(row.output_tokens, 5);
    assert.equal(row.tool_calls, 1);
    assert.equal(row.cost_nanos, 20 * 300 + 5 * 2500);
  });

  it("Vertex express mode: the configured API key, no project in the path", async () => {
    const res = await new GoogleGenAI({ vertexai: true, apiKey: "client-key-should-not-travel", httpOptions: { baseUrl: h.gateway.url } }).models.generateContent({
      model: "gemini-2.5-flash-lite",
      contents: "hi",
    });
    assert.equal(res.functionCalls?.[0]?.name, "run_shell_command");
    const rec = lastUpstream();
    assert.equal(rec.path, "/v1beta1/publishers/google/models/gemini-2.5-flash-lite:generateContent");
    assert.equal(rec.headers["x-goog-api-key"], EXPRESS_KEY);
    assert.equal(rec.headers.authorization, undefined);
  });

  it("refuses in Google's error shape", async () => {
    await assert.rejects(anthropic().messages.create({ model: "claude-unknown@1", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }), (err: Error & { status?: number }) => {
      assert.equal(err.status, 404);
      assert.match(err.message, /not served by any provider/);
      return true;
    });
    await assert.rejects(genai().models.generateContent({ model: "gemini-0-nope", contents: "hi" }), (err: Error) => {
      assert.match(err.message, /NOT_FOUND/);
      assert.match(err.message, /not served by any provider/);
      return true;
    });
  });

  it("never lets the service account's key, tokens or the express key out", async () => {
    await h.gateway.requestLog.flush();
    const keyLine = privateKey.split("\n")[5]!;
    for (const row of (await h.gateway.requestLog.list({ limit: 100 }))) {
      const full = (await h.gateway.requestLog.get(row.id))!;
      const text =
        JSON.stringify(full.row) +
        Buffer.from(full.capture?.requestBody ?? []).toString() +
        Buffer.from(full.capture?.responseBody ?? []).toString() +
        JSON.stringify(full.capture?.requestHeaders) +
        JSON.stringify(full.capture?.responseHeaders);
      for (const secret of [keyLine, EXPRESS_KEY, CLIENT_TOKEN, ...cloud.tokenGrants]) assert.ok(!text.includes(secret), `secret found in row ${row.id}`);
    }
  });
});
