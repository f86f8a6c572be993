// The web UI's sessions page with a real CI session: started by OIDC token, attributed by WhoIs, reported on GitHub.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { CreateSessionResponse } from "../../src/ci-session.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { appKeyPair } from "../github/app-key.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { one } from "../helpers/store.js";

const RUNNER = "127.0.0.3";
const ADMIN = "127.0.0.2";
const ALICE = "127.0.0.8";

describe("web UI: CI sessions", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let h: Harness;
  let sessionId = "";

  before(async () => {
    issuer = await startOidcIssuer();
    const keys = appKeyPair();
    gh = await startFakeGitHub({
      appId: "123",
      publicKeyPem: keys.publicKey,
      repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }] }],
    });
    h = await startHarness({
      peers: {
        [RUNNER]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: "nRUNNER1" },
        [ADMIN]: { login: "admin@example.com" },
        [ALICE]: { login: "alice@example.com" },
      },
      config: () => ({
        grants: [
          { src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } },
          { src: ["admin@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } },
        ],
        github: {
          oidc: { issuer: issuer.issuer, audience: "keyless" },
          api_url: gh.url,
          app: { id: "123", private_key: keys.privateKey },
          repos: { "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678" } },
        },
      }),
    });
    const res = await h.fetchFrom(RUNNER)(`${h.gateway.url}/v1/ci/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ oidc_token: await issuer.mint(eventClaims("pull_request"), { audience: "keyless" }), head_sha: HEAD_SHA }),
    });
    assert.equal(res.status, 201);
    sessionId = CreateSessionResponse.parse(await res.json()).session.id;
    const claude = (from: string) => new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
    await claude(RUNNER).messages.create({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    await claude(ALICE).messages.create({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return ((await one(h.gateway.store, "SELECT COUNT(*) AS n FROM requests")) as { n: number }).n === 2;
    }, 3000, "2 request rows");
  });
  after(async () => {
    await h.close();
    await gh.close();
    await issuer.close();
  });

  const page = async (from: string, path: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`);
    return { status: res.status, body: await res.text() };
  };

  it("admins see the session with repository, PR, status, cost and links to its requests and its report", async () => {
    const { status, body } = await page(ADMIN, "/ui/sessions");
    assert.equal(status, 200);
    assert.match(body, /<td>acme\/api<\/td><td>#42<\/td>/);
    assert.match(body, /<b>running<\/b>/);
    // One claude-opus-4-8 call: 12 in at $5, 5 out at $25 per Mtok.
    assert.match(body, new RegExp(`<a href="/ui/requests\\?session=${sessionId}">1</a>`));
    assert.match(body, /\$0\.000185/);
    assert.ok(body.includes(`<a href="/ci/sessions/${sessionId}">report</a>`));
    const requests = await page(ADMIN, `/ui/requests?session=${sessionId}`);
    assert.equal([...requests.body.matchAll(/href="\/ui\/requests\/req_/g)].length, 1, "the runner's request, not alice's");
  });

  it("users see only sessions they made requests in", async () => {
    const alice = await page(ALICE, "/ui/sessions");
    assert.equal(alice.status, 200);
    assert.doesNotMatch(alice.body, /acme\/api/);
    assert.match(alice.body, /No CI sessions with requests from alice@example\.com/);
    const runner = await page(RUNNER, "/ui/sessions");
    assert.match(runner.body, /<td>acme\/api<\/td><td>#42<\/td>/);
  });
});
