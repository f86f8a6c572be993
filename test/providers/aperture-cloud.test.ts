// Vertex and Bedrock provider entries written as Aperture's guides write them (no type; the credential in `apikey`:
// a service account as "keyfile::<base64>", an express-mode key, a Bedrock API key sent as bearer), driven by the
// official SDKs through the gateway to the fake clouds, which check the credentials the real ones check. And
// Aperture's `cost_basis`: the request row is priced from the table it names.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";
import Anthropic from "@anthropic-ai/sdk";
import AnthropicVertex from "@anthropic-ai/vertex-sdk";
import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";
import { GoogleGenAI } from "@google/genai";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { OAuth2Client } from "google-auth-library";
import { exportPKCS8, generateKeyPair } from "jose";
import http from "node:http";
import { createPricer } from "../../gateway/pricing/prices.js";
import type { RequestRow } from "../../gateway/store/requests.js";
import { type CloudRecord, type FakeCloud, startFakeCloud } from "../fakes/cloud-upstream.js";
import { type Harness, KEYS, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const APERTURE = "tailscale.com/cap/aperture";
const CLIENT_EMAIL = "aperture-vertex@sa-proj.iam.gserviceaccount.com";
const EXPRESS_KEY = "CANARY-aperture-express-0123456789abcdef";
const BEDROCK_KEY = "CANARY-aperture-bedrock-0123456789abcdef";
/** What the clients hold: none of it may reach a cloud. */
const CLIENT_TOKEN = "ya29.client-token-should-not-travel";
const CLIENT_AWS = { accessKeyId: "AKIACLIENTSHOULDNOT1", secretAccessKey: "client-secret-should-not-travel" };
const ALICE = "127.0.0.2";

describe("Aperture's Vertex and Bedrock entries", () => {
  let cloud: FakeCloud;
  let h: Harness;
  const agent = new http.Agent({ keepAlive: true, localAddress: ALICE });

  before(async () => {
    const keys = await generateKeyPair("RS256", { extractable: true });
    cloud = await startFakeCloud({
      aws: { accessKeyId: "unused", secretAccessKey: "unused", region: "us-east-1", apiKey: BEDROCK_KEY },
      google: { clientEmail: CLIENT_EMAIL, publicKey: keys.publicKey, apiKey: EXPRESS_KEY },
    });
    // A key file as `gcloud iam service-accounts keys create` writes it; its token_uri is where keyless mints tokens.
    const keyFile = {
      type: "service_account",
      project_id: "sa-proj",
      private_key_id: "kid-1",
      private_key: await exportPKCS8(keys.privateKey),
      client_email: CLIENT_EMAIL,
      token_uri: cloud.tokenUrl,
    };
    h = await startHarness({
      // @google/genai takes no fetch option: its calls come from 127.0.0.1.
      peers: { "127.0.0.1": { login: "alice@example.com" }, [ALICE]: { login: "alice@example.com", nodeId: "nALICE" } },
      config: (up) => ({
        providers: {
          // First, so it serves claude-sonnet-4-6 on the Messages API: Anthropic's API priced from AWS's table.
          "claude-aws-priced": {
            baseurl: up,
            apikey: KEYS.anthropic,
            authorization: "x-api-key",
            models: ["claude-sonnet-4-6"],
            cost_basis: "bedrock",
            compatibility: { anthropic_messages: true },
          },
          ...defaultProviders(up),
          vertex: {
            baseurl: cloud.url,
            apikey: `keyfile::${Buffer.from(JSON.stringify(keyFile)).toString("base64")}`,
            authorization: "bearer",
            models: ["claude-sonnet-*", "gemini-2.5-flash"],
            compatibility: { google_generate_content: true, google_raw_predict: true },
          },
          "vertex-express": {
            baseurl: cloud.url,
            apikey: EXPRESS_KEY,
            authorization: "x-goog-api-key",
            models: ["gemini-2.5-flash-lite"],
            compatibility: { google_generate_content: true },
          },
          bedrock: {
            // A base URL that is not AWS's names no region: the entry adds keyless's `region`.
            baseurl: cloud.url,
            region: "us-east-1",
            apikey: BEDROCK_KEY,
            authorization: "bearer",
            models: ["us.anthropic.*"],
            cost_basis: "bedrock-us",
            compatibility: { bedrock_model_invoke: true, bedrock_converse: true },
          },
        },
        grants: [{ src: ["alice@example.com"], app: { [APERTURE]: [{ role: "user" }, { models: "**" }] } }],
      }),
    });
  });
  after(async () => {
    agent.destroy();
    await h.close();
    await cloud.close();
  });

  const lastUpstream = (): CloudRecord => cloud.requests.at(-1)!;
  const rowFor = (pred: (r: RequestRow) => boolean, what: string) =>
    waitFor(async () => (await h.gateway.requestLog.list({ limit: 100 })).find(pred), 5000, what);
  const clientAuth = () => {
    const auth = new OAuth2Client();
    auth.setCredentials({ access_token: CLIENT_TOKEN, expiry_date: Date.now() + 3600_000 });
    return auth;
  };

  it("Vertex (service account): Claude reaches the key file's project at location global, with a token minted from the key file", async () => {
    const client = new AnthropicVertex({ projectId: "client-proj", region: "us-east5", baseURL: `${h.gateway.url}/v1`, authClient: clientAuth(), fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    const message = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    assert.equal(message.stop_reason, "tool_use");
    const rec = lastUpstream();
    assert.equal(rec.path, "/v1/projects/sa-proj/locations/global/publishers/anthropic/models/claude-sonnet-4-6:rawPredict");
    const token = /^Bearer (.+)$/.exec(rec.headers.authorization ?? "")?.[1];
    assert.ok(token && cloud.tokenGrants.includes(token), "the upstream bearer was not minted by the key file's token endpoint");
    assert.ok(!JSON.stringify(rec.headers).includes(CLIENT_TOKEN), "the client's token reached Google");
    const row = await rowFor((r) => r.route === "vertex.anthropic", "rawPredict row");
    assert.equal(row.provider, "vertex");
    assert.equal(row.principal, "alice@example.com");
  });

  it("Vertex (service account): Gemini's generateContent through @google/genai", async () => {
    const genai = new GoogleGenAI({ vertexai: true, project: "client-proj", location: "us-central1", httpOptions: { baseUrl: h.gateway.url }, googleAuthOptions: { authClient: clientAuth() } });
    const res = await genai.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    assert.equal(res.functionCalls?.[0]?.name, "run_shell_command");
    assert.match(lastUpstream().path, /^\/v1beta1\/projects\/sa-proj\/locations\/global\/publishers\/google\/models\/gemini-2\.5-flash:generateContent$/);
  });

  it("Vertex express: the entry's key in x-goog-api-key, never the client's", async () => {
    const genai = new GoogleGenAI({ vertexai: true, apiKey: "client-key-should-not-travel", httpOptions: { baseUrl: h.gateway.url } });
    const res = await genai.models.generateContent({ model: "gemini-2.5-flash-lite", contents: "hi" });
    assert.equal(res.functionCalls?.[0]?.name, "run_shell_command");
    const rec = lastUpstream();
    assert.equal(rec.path, "/v1beta1/publishers/google/models/gemini-2.5-flash-lite:generateContent");
    assert.equal(rec.headers["x-goog-api-key"], EXPRESS_KEY);
    assert.equal(rec.headers.authorization, undefined);
  });

  it("Bedrock: the API key as a bearer token for @anthropic-ai/bedrock-sdk and the AWS SDK; priced from AWS's table", async () => {
    const claude = new AnthropicBedrock({ awsAccessKey: CLIENT_AWS.accessKeyId, awsSecretKey: CLIENT_AWS.secretAccessKey, awsRegion: "us-east-1", baseURL: `${h.gateway.url}/bedrock`, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    const message = await claude.messages.create({ model: "us.anthropic.claude-sonnet-4-6-v1:0", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    assert.equal(message.stop_reason, "tool_use");
    assert.equal(lastUpstream().headers.authorization, `Bearer ${BEDROCK_KEY}`);
    assert.equal(lastUpstream().modelId, "us.anthropic.claude-sonnet-4-6-v1:0");

    const aws = new BedrockRuntimeClient({ region: "us-east-1", endpoint: `${h.gateway.url}/bedrock`, credentials: CLIENT_AWS, requestHandler: new NodeHttpHandler({ httpAgent: agent }), maxAttempts: 1 });
    const res = await aws.send(new ConverseCommand({ modelId: "us.anthropic.claude-sonnet-4-6-v1:0", messages: [{ role: "user", content: [{ text: "hi" }] }] }));
    assert.equal(res.stopReason, "tool_use");
    const rec = lastUpstream();
    assert.equal(rec.headers.authorization, `Bearer ${BEDROCK_KEY}`);
    assert.ok(!JSON.stringify(rec.headers).includes(CLIENT_AWS.accessKeyId), "the client's AWS identity reached AWS");
    const row = await rowFor((r) => r.route === "bedrock.converse", "converse row");
    assert.equal(row.provider, "bedrock");
    // us. profiles are priced as regional: $3.3 / $16.5 per Mtok.
    assert.equal(row.cost_nanos, 12 * 3300 + 7 * 16500);
  });

  it("cost_basis: an Anthropic entry with cost_basis \"bedrock\" is priced from AWS's table, not Anthropic's", async () => {
    const client = new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    const message = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    const row = await rowFor((r) => r.route === "anthropic.messages" && r.provider === "claude-aws-priced", "messages row");
    const usage = { input: message.usage.input_tokens, output: message.usage.output_tokens, cacheRead: 0, cacheWrite: 0, reasoning: 0 };
    const priced = (priceProvider: string) => createPricer({}).cost({ provider: "claude-aws-priced", priceProvider, model: "claude-sonnet-4-6" }, usage);
    assert.ok(usage.input > 0 && usage.output > 0);
    assert.notEqual(priced("aws"), priced("anthropic"), "the two tables must differ for this test to mean anything");
    assert.equal(row.cost_nanos, priced("aws"));
  });
});
