// A CI session across two replicas of one gateway (one PostgreSQL store): started through one, its node's requests
// through the other are attributed to it, finished through the other; the check run ends in the final state, written
// by one replica at a time.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { CreateSessionResponse } from "../../src/ci-session.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { type TestDatabase, createTestDatabase } from "../helpers/postgres.js";
import { waitFor } from "../helpers/wait.js";
import { appKeyPair } from "./app-key.js";

const RUNNER = "127.0.0.3";
const ADMIN = "127.0.0.2";

describe("a CI session across replicas", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let pg: TestDatabase;
  let a: Harness;
  let b: Harness;

  before(async () => {
    issuer = await startOidcIssuer();
    pg = await createTestDatabase();
    const keys = appKeyPair();
    gh = await startFakeGitHub({
      appId: "123",
      publicKeyPem: keys.publicKey,
      repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }] }],
    });
    const replica = () =>
      startHarness({
        peers: { [RUNNER]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: "nRUNNER1" }, [ADMIN]: { login: "alice@example.com", nodeId: "nALICE" } },
        database: { type: "postgres", url: pg.url, pool_size: 5 },
        config: () => ({
          grants: [
            { src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } },
            { src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } },
          ],
          github: {
            oidc: { issuer: issuer.issuer, audience: "keyless" },
            api_url: gh.url,
            app: { id: "123", private_key: keys.privateKey },
            checks: { update_interval: "100ms" },
            repos: { "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678" } },
          },
        }),
      });
    [a, b] = [await replica(), await replica()];
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await gh.close();
    await issuer.close();
    await pg.drop();
  });

  const post = (h: Harness, from: string, path: string, body: unknown) =>
    h.fetchFrom(from)(`${h.gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  it("starts through one replica, is attributed and finished through the other, and its check run ends completed", async () => {
    const token = await issuer.mint(eventClaims("pull_request"), { audience: "keyless" });
    const started = await post(a, RUNNER, "/v1/ci/sessions", { oidc_token: token, head_sha: HEAD_SHA });
    assert.equal(started.status, 201);
    const { session } = CreateSessionResponse.parse(await started.json());

    const claude = new Anthropic({ apiKey: "x", baseURL: b.gateway.url, fetch: b.fetchFrom(RUNNER), maxRetries: 0 });
    const { response } = await claude.messages.create({ model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = response.headers.get("x-keyless-request-id")!;
    await b.gateway.requestLog.flush();
    assert.equal((await a.gateway.requestLog.get(id))?.row.session_id, session.id, "attributed by the other replica, seen by the first");

    const finished = await post(b, RUNNER, `/v1/ci/sessions/${session.id}/finish`, {});
    assert.equal(finished.status, 200);
    assert.equal(((await finished.json()) as { session: { finish_reason: string } }).session.finish_reason, "finished");
    const run = await waitFor(() => {
      const r = gh.checkRuns.get(session.check_run_id!);
      return r?.status === "completed" && (r.output as { title?: string } | undefined)?.title?.includes("1 request") && r;
    }, 10_000, "the completed check run");
    assert.equal(run.conclusion, "neutral");
    assert.deepEqual(gh.violations, []);
  });
});
