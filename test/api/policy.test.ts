// The editor's API beyond /api/config: GET /api/policy/explain (the CLI's explain logic for a principal or a
// repository's runner) and GET /api/config/history/:id (a change with the text it applied). Admins only; bad input 400.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { explain, repositoryRunner } from "../../gateway/commands/policy-explain.js";
import { ExplainAnswer, HistoryAnswer, HistoryEntryAnswer } from "../../gateway/ui/schemas/policy.js";

const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
const BOB = "127.0.0.3";

describe("policy API", () => {
  let h: Harness;
  before(async () => {
    process.env.KEYLESS_TEST_ANTHROPIC_KEY = KEYS.anthropic;
    h = await startHarness({
      configFile: true,
      peers: { [ADMIN]: { login: "admin@example.com" }, [BOB]: { login: "bob@example.com" } },
      config: (url) => ({
        providers: { anthropic: { type: "anthropic", baseurl: url, apikey: "${KEYLESS_TEST_ANTHROPIC_KEY}", models: ["claude-*"] } },
        github: { repos: { "acme/*": { tags: ["tag:ci-<owner>-<repo>"] } } },
        quotas: { "repo:<repo>": { capacity: "$20.00", rate: "$20.00/day" }, "daily:<user>": { capacity: "$5.00", rate: "$5.00/day" } },
        grants: [
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
          { src: ["bob@example.com"], app: { [CAP]: [{ role: "user", models: "anthropic/**", quotas: [{ bucket: "daily:<user>" }] }] } },
          { src: ["tag:ci-acme-api"], app: { [CAP]: [{ role: "user", models: "anthropic/claude-*", quotas: [{ bucket: "repo:<repo>" }] }] } },
        ],
      }),
    });
  });
  after(() => h?.close());

  const get = async (path: string, from = ADMIN) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`);
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Record<string, unknown> };
  };

  it("explains a principal's request as `keyless policy explain` does", async () => {
    const { status, body } = await get("/api/policy/explain?principal=bob@example.com&model=claude-sonnet-4-6");
    assert.equal(status, 200, JSON.stringify(body));
    const answer = ExplainAnswer.parse(body);
    const cli = explain(h.gateway.config(), { principal: "bob@example.com", model: "claude-sonnet-4-6" });
    assert.deepEqual([answer.role, answer.allowed, answer.model_key, answer.allowed_by], [cli.role, cli.allowed, cli.modelKey, cli.allowedBy]);
    assert.deepEqual(answer.buckets, [{ bucket: "daily:bob@example.com", quota: "daily:<user>", capacity: "$5.00", rate: "$5.00/day" }]);
    assert.deepEqual(answer.grants.map((g) => g.origin), ["config#1"]);
    // A model no grant of bob's allows: denied, nothing charged.
    const denied = ExplainAnswer.parse((await get("/api/policy/explain?principal=bob@example.com&model=gpt-5")).body);
    assert.deepEqual([denied.role, denied.allowed, denied.buckets], ["user", false, []]);
  });

  it("explains a repository as its CI runner: the mapping's tags, <repo> expanded", async () => {
    const answer = ExplainAnswer.parse((await get("/api/policy/explain?repository=acme/api&model=anthropic/claude-sonnet-4-6")).body);
    assert.deepEqual(answer.repository, { name: "acme/api", pattern: "acme/*", tags: ["tag:ci-acme-api"] });
    assert.equal(answer.principal, "tag:ci-acme-api");
    assert.deepEqual([answer.role, answer.allowed], ["user", true]);
    assert.deepEqual(answer.buckets.map((b) => b.bucket), ["repo:acme/api"]);
    assert.deepEqual(repositoryRunner(h.gateway.config(), "other/x"), { error: "repository other/x matches no github.repos mapping: its CI sessions are refused" });
    const unmapped = await get("/api/policy/explain?repository=other/x&model=claude-sonnet-4-6");
    assert.deepEqual([unmapped.status, unmapped.body.error?.code], [404, "repository_not_mapped"]);
  });

  it("answers 400 to a question without a model, without anyone, or with unknown parameters", async () => {
    for (const query of ["principal=bob@example.com", "model=claude-sonnet-4-6", "principal=&model=claude-sonnet-4-6", "repository=not-a-repo&model=x", "principal=bob@example.com&model=x&extra=1"]) {
      const { status, body } = await get(`/api/policy/explain?${query}`);
      assert.deepEqual([status, body.error?.code], [400, "invalid_query"], query);
    }
  });

  it("serves one change with the text it applied; 400 for a bad id, 404 for an unknown one", async () => {
    const read = (await get("/api/config")).body as { config: string; hash: string };
    const text = read.config.replace('"$5.00/day"', '"$6.00/day"');
    const res = await h.fetchFrom(ADMIN)(`${h.gateway.url}/api/config`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: text, hash: read.hash }) });
    assert.equal(res.status, 200);
    const listed = (await get("/api/config/history")).body;
    const [newest] = HistoryAnswer.parse(listed).changes;
    assert.ok(newest);
    assert.deepEqual([newest.principal, newest.restorable], ["admin@example.com", true]);
    assert.ok(!("text" in (listed.changes as object[])[0]!), "the list leaves the texts out");
    const entry = HistoryEntryAnswer.parse((await get(`/api/config/history/${newest.id}`)).body);
    assert.equal(entry.change.text, text);
    assert.equal(entry.change.diff, newest.diff);
    for (const bad of ["abc", "0", "-1", "1.5"]) assert.deepEqual([(await get(`/api/config/history/${bad}`)).status], [400], bad);
    const missing = await get(`/api/config/history/${newest.id + 1000}`);
    assert.deepEqual([missing.status, missing.body.error?.code], [404, "no_such_change"]);
  });

  it("keeps a change's text out of the store when it holds a literal credential", async () => {
    const { writeFileSync, readFileSync } = await import("node:fs");
    const literal = readFileSync(h.configPath!, "utf8").replace("${KEYLESS_TEST_ANTHROPIC_KEY}", "sk-ant-literal-999");
    writeFileSync(h.configPath!, literal);
    h.gateway.reloadConfig();
    const [newest] = HistoryAnswer.parse((await get("/api/config/history")).body).changes;
    assert.deepEqual([newest?.source, newest?.restorable], ["sighup", false]);
    const entry = await get(`/api/config/history/${newest!.id}`);
    assert.equal(HistoryEntryAnswer.parse(entry.body).change.text, null);
    assert.ok(!JSON.stringify(entry.body).includes("sk-ant-literal-999"));
  });

  it("refuses users with 403", async () => {
    for (const path of ["/api/policy/explain?principal=bob@example.com&model=claude-sonnet-4-6", "/api/config/history/1", "/api/config/history"]) {
      const { status, body } = await get(path, BOB);
      assert.deepEqual([status, body.error?.code], [403, "forbidden"], path);
    }
  });
});
