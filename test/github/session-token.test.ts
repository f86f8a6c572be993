// Session tokens for runners that cannot join the tailnet (the weaker option, off unless a mapping enables it).
// In the harness every caller is on loopback; an address tailscaled does not know is a caller without a node, as
// traffic arriving through Funnel or a local reverse proxy would be.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { CreateSessionResponse } from "../../src/ci-session.js";
import { tokenFromRequest } from "../../gateway/github/tokens.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { appKeyPair } from "./app-key.js";
import { one, all } from "../helpers/store.js";

const OFF_TAILNET = "127.0.0.7";
const CAP = "keyless.dev/cap/gateway";

describe("session tokens", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let h: Harness;

  before(async () => {
    issuer = await startOidcIssuer();
    const keys = appKeyPair();
    gh = await startFakeGitHub({ appId: "123", publicKeyPem: keys.publicKey, repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77 }] });
    h = await startHarness({
      config: () => ({
        grants: [{ src: ["tag:ci-acme-api"], app: { [CAP]: [{ role: "user", models: "**" }] } }],
        github: {
          oidc: { issuer: issuer.issuer },
          api_url: gh.url,
          app: { id: "123", private_key: keys.privateKey },
          session_token_ttl: "2h",
          repos: {
            "acme/api": { tags: ["tag:ci-acme-api"], session_tokens: true },
            "acme/web": { tags: ["tag:ci-acme-web"] },
          },
        },
      }),
    });
  });
  after(async () => {
    await h.close();
    await gh.close();
    await issuer.close();
  });

  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    h.fetchFrom(OFF_TAILNET)(`${h.gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const claude = (apiKey: string) => new Anthropic({ apiKey, baseURL: h.gateway.url, fetch: h.fetchFrom(OFF_TAILNET), maxRetries: 0 });
  const params = { model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user" as const, content: "hi" }] };

  it("finds the token wherever an SDK puts its key", async () => {
    const t = "kls_abc";
    const url = "http://gw/v1/messages";
    assert.equal(tokenFromRequest(new Headers({ "x-api-key": t }), url), t);
    assert.equal(tokenFromRequest(new Headers({ authorization: `Bearer ${t}` }), url), t);
    assert.equal(tokenFromRequest(new Headers({ "x-goog-api-key": t }), url), t);
    assert.equal(tokenFromRequest(new Headers(), `${url}?key=${t}`), t);
    assert.equal(tokenFromRequest(new Headers({ "x-api-key": "sk-ant-other" }), url), null);
  });

  it("refuses a token where the repository mapping does not enable them", async () => {
    const token = await issuer.mint(eventClaims("push", { repo: { repository: "acme/web", repository_id: "5", repository_owner_id: "4567890" } }), { audience: "keyless" });
    const res = await post("/v1/ci/sessions", { oidc_token: token, session_token: true });
    assert.equal(res.status, 403);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, "session_tokens_disabled");
    assert.match(error.message, /github\.repos\["acme\/web"\] does not allow session tokens/);
  });

  it("refuses a bad OIDC token even on the public route", async () => {
    const token = await issuer.mint(eventClaims("push"), { audience: "keyless", signer: "foreign" });
    const res = await post("/v1/ci/sessions", { oidc_token: token, session_token: true });
    assert.equal(res.status, 401);
  });

  it("issues a job-bound token that works as the API key until the session finishes", async () => {
    // Without a token this caller has no tailnet node and no grant.
    await assert.rejects(claude("placeholder").messages.create(params), (err: unknown) => err instanceof Anthropic.PermissionDeniedError);

    const res = await post("/v1/ci/sessions", { oidc_token: await issuer.mint(eventClaims("pull_request"), { audience: "keyless" }), head_sha: HEAD_SHA, session_token: true });
    assert.equal(res.status, 201, await res.clone().text());
    const created = CreateSessionResponse.parse(await res.json());
    const token = created.session_token!;
    assert.match(token, /^kls_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.session.node_id, `token:${created.session.id}`);
    const ttl = Date.parse(created.session_token_expires_at!) - Date.parse(created.session.started_at);
    assert.equal(ttl, 2 * 3600_000);
    assert.ok(created.session.check_run_id !== null, "check run as for any session");

    const reply = await claude(token).messages.create(params);
    assert.equal(reply.type, "message");
    await h.gateway.requestLog.flush();
    const row = (await h.gateway.requestLog.list({ session: created.session.id, limit: 5 }))[0];
    assert.ok(row, "request attributed to the session");
    assert.equal(row.principal, "tag:ci-acme-api");
    assert.equal(row.node_id, `token:${created.session.id}`);
    assert.ok(!JSON.stringify(h.upstream.requests.at(-1)?.headers).includes(token), "the token never reaches the provider");
    const stored = (await one(h.gateway.store, "SELECT token_hash FROM ci_sessions WHERE id = ?", created.session.id)) as { token_hash: string };
    assert.match(stored.token_hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify((await all(h.gateway.store, "SELECT * FROM ci_sessions"))).includes(token), "only the hash is stored");

    const fin = await post(`/v1/ci/sessions/${created.session.id}/finish`, undefined, { "x-api-key": token });
    assert.equal(fin.status, 200);
    await assert.rejects(claude(token).messages.create(params), (err: unknown) => err instanceof Anthropic.PermissionDeniedError);
  });
});
