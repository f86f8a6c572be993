import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GitHubConfig } from "../../gateway/config/github.js";
import { parseConfigText } from "../../gateway/config/load.js";
import type { Identity } from "../../gateway/identity/types.js";
import { ActionsClaims } from "../../gateway/github/oidc.js";
import { checkRepository } from "../../gateway/github/repos.js";
import { eventClaims } from "../fakes/oidc-issuer.js";

function node(tags: string[], nodeId: string | null = "nCI123"): Identity {
  return { principal: tags.join(","), login: null, nodeId, nodeName: "github-runner-1", tags, groups: [], capMap: {}, addr: "100.64.0.7:40000" };
}
function claims(over: Record<string, string> = {}): ActionsClaims {
  return ActionsClaims.parse({ ...eventClaims("push"), iss: "x", jti: "j", exp: 1, ...over });
}

describe("github config", () => {
  it("fills defaults and normalizes ids and keys", () => {
    const c = GitHubConfig.parse({
      app: { id: 123, private_key: "-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----" },
      repos: { "acme/api": { tags: ["tag:ci-acme-api"], repository_id: 812345678 } },
    });
    assert.equal(c.oidc.issuer, "https://token.actions.githubusercontent.com");
    assert.equal(c.oidc.audience, "keyless");
    assert.equal(c.checks.name, "AI usage");
    assert.equal(c.checks.update_interval, 30_000);
    assert.equal(c.app?.id, "123");
    assert.match(c.app?.private_key ?? "", /KEY-----\nabc\n/);
    assert.equal(c.repos["acme/api"]?.repository_id, "812345678");
    assert.equal(c.repos["acme/api"]?.session_tokens, false);
  });

  it("is a section of the gateway config, with readable errors", () => {
    const ok = parseConfigText(`{ "github": { "checks": { "update_interval": "45s" }, "repos": { "acme/*": { "tags": ["tag:ci-<owner>-<repo>"] } } } }`, {});
    assert.equal(ok.config.github?.checks.update_interval, 45_000);
    assert.throws(
      () => parseConfigText(`{ "github": { "repos": { "not a repo": { "tags": ["tag:ci"] } } } }`, {}),
      /github\.repos\.not a repo: expected "owner\/repo" or "owner\/\*"/,
    );
    assert.throws(
      () => parseConfigText(`{ "github": { "repos": { "acme/api": { "tags": ["ci"] } } } }`, {}),
      /github\.repos\.acme\/api\.tags\.0: tags start with "tag:"/,
    );
  });
});

describe("repository mapping", () => {
  const repos = GitHubConfig.parse({
    repos: {
      "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678" },
      "acme/*": { tags: ["tag:ci", "tag:ci-<owner>-<repo>"] },
      "other/web": { tags: ["tag:ci-web"], owner_id: "1" },
    },
  }).repos;

  it("accepts a node carrying the mapped tags", () => {
    const r = checkRepository(repos, claims(), node(["tag:ci", "tag:ci-acme-api"]));
    assert.ok(r.ok);
    assert.equal(r.pattern, "acme/api");
  });

  it("follows a rename through the pinned repository id", () => {
    const r = checkRepository(repos, claims({ repository: "acme/api-v2" }), node(["tag:ci-acme-api"]));
    assert.ok(r.ok);
    assert.equal(r.pattern, "acme/api");
  });

  it("expands tag templates for owner/* mappings", () => {
    const r = checkRepository(repos, claims({ repository: "ACME/Web.App", repository_id: "5" }), node(["tag:ci", "tag:ci-acme-web-app"]));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.tags, ["tag:ci", "tag:ci-acme-web-app"]);
  });

  const refusals: [string, ActionsClaims, Identity, string, RegExp][] = [
    ["an unmapped repository", claims({ repository: "evil/api", repository_owner: "evil", repository_id: "13" }), node(["tag:ci"]), "repo_not_mapped", /evil\/api is not in github\.repos/],
    ["a recreated repository (id differs from the pin)", claims({ repository_id: "999" }), node(["tag:ci-acme-api"]), "repo_id_mismatch", /has id 999, but github\.repos\["acme\/api"\] is pinned to id 812345678/],
    ["an owner whose id differs from the pin", claims({ repository: "other/web", repository_owner: "other", repository_id: "7" }), node(["tag:ci-web"]), "owner_id_mismatch", /pinned to owner id 1/],
    ["a node lacking the repository's tag", claims(), node(["tag:ci", "tag:ci-acme-web"]), "node_tags", /lacks tag:ci-acme-api, required for acme\/api .* \(it has tag:ci, tag:ci-acme-web\)/],
    ["an untagged node", claims({ repository: "acme/x", repository_id: "6" }), node([]), "node_tags", /lacks tag:ci, tag:ci-acme-x.*\(it has no tags\)/],
    ["a loopback caller", claims(), node([], null), "not_a_tailnet_node", /bound to a tailnet node/],
  ];
  for (const [name, c, who, code, message] of refusals) {
    it(`refuses ${name}`, () => {
      const r = checkRepository(repos, c, who);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.code, code);
      assert.match(r.message, message);
    });
  }
});
