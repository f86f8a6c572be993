import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GitHubError, createAppClient, type GitHubClient } from "../../gateway/github/checks.js";
import { OPENAPI_SOURCE, startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { appKeyPair } from "./app-key.js";

const HEAD = "1111111111111111111111111111111111111111";

describe("GitHub App client against the fake GitHub", () => {
  let gh: FakeGitHub;
  let client: GitHubClient;
  const repo = { owner: "acme", repo: "api" };

  before(async () => {
    const keys = appKeyPair();
    gh = await startFakeGitHub({
      appId: "123",
      publicKeyPem: keys.publicKey,
      repos: [
        { owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD }] },
        { owner: "acme", name: "uninstalled", id: 5 },
      ],
    });
    client = createAppClient({ appId: "123", privateKey: keys.privateKey, baseUrl: gh.url });
  });
  after(() => gh.close());

  it("validates against the OpenAPI extract of @octokit/openapi", () => {
    assert.match(OPENAPI_SOURCE, /^@octokit\/openapi \d+\.\d+\.\d+/);
  });

  it("creates and updates a check run through the repository's installation", async () => {
    const { id, url } = await client.createCheckRun(repo, {
      name: "AI usage",
      head_sha: HEAD,
      status: "in_progress",
      started_at: "2026-11-20T10:00:00Z",
      output: { title: "$0.00", summary: "nothing yet" },
    });
    assert.match(url, /^https:\/\/github\.com\/acme\/api\/runs\/\d+$/);
    await client.updateCheckRun(repo, id, { conclusion: "neutral", completed_at: "2026-11-20T10:05:00Z", output: { title: "$1.00", summary: "done" } });
    const run = gh.checkRuns.get(id);
    assert.equal(run?.status, "completed");
    assert.equal(run?.conclusion, "neutral");
    const ops = gh.requests.map((r) => `${r.op} ${r.status}`);
    assert.deepEqual(ops, [
      "apps/get-repo-installation 200",
      "apps/create-installation-access-token 201",
      "checks/create 201",
      "checks/update 200",
    ]);
    assert.match(gh.requests[0]!.auth, /^bearer ey/i, "app JWT for the installation lookup");
    assert.match(gh.requests[2]!.auth, /^token ghs_/, "installation token for check runs");
    assert.deepEqual(gh.violations, []);
  });

  it("reads a PR's head and base repository, and null for a missing PR", async () => {
    assert.deepEqual(await client.getPull(repo, 42), { number: 42, headSha: HEAD, baseRepoId: "812345678", state: "open" });
    assert.equal(await client.getPull(repo, 9), null);
    assert.deepEqual(gh.violations, []);
  });

  it("says when the app is not installed, rather than that the PR is missing", async () => {
    await assert.rejects(client.getPull({ owner: "acme", repo: "uninstalled" }, 1), (err: unknown) => {
      assert.ok(err instanceof GitHubError);
      assert.equal(err.status, 404);
      assert.match(err.message, /look up the app installation for acme\/uninstalled/);
      return true;
    });
  });

  it("surfaces an outage at once as a GitHubError with its status (no octokit retries)", async () => {
    gh.outage = 1;
    const before = gh.requests.length;
    await assert.rejects(client.updateCheckRun(repo, 1, { output: { title: "t", summary: "s" } }), (err: unknown) => err instanceof GitHubError && err.status === 503);
    assert.equal(gh.requests.length - before, 1);
  });

  it("reports an unreachable GitHub with a null status", async () => {
    const offline = createAppClient({ appId: "123", privateKey: appKeyPair().privateKey, baseUrl: "http://127.0.0.1:1" });
    await assert.rejects(offline.getPull(repo, 1), (err: unknown) => err instanceof GitHubError && err.status === null);
  });
});
