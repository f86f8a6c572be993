// Grants from the tailnet policy file: WhoIs CapMap values under the configured capability, merged with config
// grants or (config_grants: false) alone; and `policy render` output that, delivered as CapMap, grants the same.
import assert from "node:assert/strict";
import { all, one } from "../helpers/store.js";
import { after, before, describe, it } from "node:test";
import { parseConfigText } from "../../gateway/config/load.js";
import type { Identity } from "../../gateway/identity/types.js";
import { srcMatches } from "../../gateway/access/grants.js";
import { renderPolicy } from "../../gateway/commands/policy-render.js";
import { type Harness, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2"; // config grant only
const CI = "127.0.0.3"; // tailnet grant only
const ODD = "127.0.0.4"; // invalid tailnet values
const OTHER_CAP = "127.0.0.5"; // grant under someone else's capability

describe("grants from the tailnet policy (WhoIs CapMap)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: {
        [ALICE]: { login: "alice@example.com", nodeId: "nALICE" },
        [CI]: {
          tags: ["tag:ci-acme-api"],
          nodeId: "nCI",
          // Tailscale concatenates the values of every matching grant into one array.
          capMap: { [CAP]: [{ role: "user" }, { models: "anthropic/claude-*", quotas: [{ bucket: "ci:<user>" }] }] },
        },
        [ODD]: { login: "odd@example.com", capMap: { [CAP]: [{ role: "root" }, { models: 42 }] } },
        [OTHER_CAP]: { login: "eve@example.com", capMap: { "example.com/cap/other": [{ role: "admin", models: "**" }] } },
      },
      config: () => ({
        quotas: { "ci:<user>": { capacity: "$1.00", rate: "$0/day" } },
        grants: [{ src: ["alice@example.com"], app: { [CAP]: [{ role: "admin", models: "openai/**" }] } }],
      }),
    });
  });
  after(() => h.close());

  const status = async (from: string, path: string, body: unknown) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text };
  };
  const claude = (from: string) => status(from, "/v1/messages", { model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
  const gpt = (from: string) => status(from, "/v1/chat/completions", { model: "gpt-5-mini", max_completion_tokens: 10, messages: [{ role: "user", content: "hi" }] });

  it("grants what the CapMap grants, charges the buckets it names, nothing more", async () => {
    const ok = await claude(CI);
    assert.equal(ok.status, 200, ok.text);
    const denied = await gpt(CI);
    assert.equal(denied.status, 404);
    assert.match(denied.text, /no grant allows openai\/gpt-5-mini/);
    const row = await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return (await one(h.gateway.store, "SELECT bucket, charged_nanos FROM quota_charges WHERE bucket = 'ci:tag:ci-acme-api'")) as { charged_nanos: number } | undefined;
    }, 3000, "the tailnet grant's bucket charge");
    assert.ok(row.charged_nanos > 0, "the tailnet grant's bucket was charged");
  });

  it("merges config grants and tailnet grants", async () => {
    assert.equal((await gpt(ALICE)).status, 200);
    assert.equal((await claude(ALICE)).status, 404, "alice's config grant allows openai only");
  });

  it("ignores values that do not parse, and capabilities other than the configured one", async () => {
    const odd = await claude(ODD);
    assert.equal(odd.status, 403);
    assert.match(odd.text, /no role granted/);
    assert.equal((await claude(OTHER_CAP)).status, 403);
  });

  it("with config_grants: false, takes grants from the tailnet only", async () => {
    const before = h.gateway.config();
    // Rebuilt from the raw shape: the parsed config carries transformed values.
    h.gateway.replaceConfig(
      parseConfigText(
        JSON.stringify({
          identity: { type: "tailscale", socket: h.tailscaled.socketPath },
          providers: defaultProviders(h.upstream.url),
          database: { path: before.database.path },
          config_grants: false,
          quotas: { "ci:<user>": { capacity: "$1.00", rate: "$0/day" } },
          grants: [{ src: ["alice@example.com"], app: { [CAP]: [{ role: "admin", models: "openai/**" }] } }],
        }),
        {},
      ),
    );
    try {
      const alice = await gpt(ALICE);
      assert.equal(alice.status, 403);
      assert.match(alice.text, /no role granted/);
      assert.equal((await claude(CI)).status, 200);
    } finally {
      h.gateway.replaceConfig({ config: before, text: "", hash: "", warnings: [] });
    }
  });
});

describe("policy render, delivered as CapMap, grants what the config granted", () => {
  const grants = [
    { src: ["tag:ci-acme-api"], app: { [CAP]: [{ role: "user", models: "anthropic/**", quotas: [{ bucket: "daily:<user>" }] }] } },
    { src: ["group:eng@example.com"], app: { [CAP]: [{ role: "admin" }, { models: ["openai/**", "gemini/**"] }] } },
    { src: ["*"], app: { [CAP]: [{ quotas: [{ bucket: "team" }] }] } },
  ];
  const quotas = { "daily:<user>": { capacity: "$5.00", rate: "$0/day" }, team: { capacity: "$50.00", rate: "$0/day" } };
  const peers = {
    "127.0.0.2": { tags: ["tag:ci-acme-api"], nodeId: "nCI" },
    "127.0.0.3": { login: "bob@example.com", groups: ["group:eng@example.com"], nodeId: "nBOB" },
    "127.0.0.4": { login: "mallory@example.com", nodeId: "nMAL" },
  };
  const requests = [
    ["/v1/messages", { model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }],
    ["/v1/chat/completions", { model: "gpt-5-mini", max_completion_tokens: 10, messages: [{ role: "user", content: "hi" }] }],
    ["/v1beta/models/gemini-3.8-flash:generateContent", { contents: [{ parts: [{ text: "hi" }] }], generationConfig: { maxOutputTokens: 10 } }],
  ] as const;

  /** Status of every request from every peer, and the buckets charged. */
  async function outcomes(h: Harness): Promise<{ statuses: string[]; buckets: string[] }> {
    const statuses: string[] = [];
    for (const ip of Object.keys(peers)) {
      for (const [path, body] of requests) {
        const res = await h.fetchFrom(ip)(`${h.gateway.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        await res.arrayBuffer();
        statuses.push(`${ip} ${path} ${res.status}`);
      }
    }
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return (await h.gateway.requestLog.list({ limit: 1000 })).length === statuses.length;
    }, 3000, "every request's row");
    const buckets = ((await all(h.gateway.store, "SELECT DISTINCT bucket FROM quota_charges ORDER BY bucket")) as { bucket: string }[]).map((r) => r.bucket);
    return { statuses, buckets };
  }

  it("same statuses and buckets with config grants as with the rendered tailnet grants", async () => {
    const fromConfig = await startHarness({ peers, config: () => ({ quotas, grants }) });
    let expected: Awaited<ReturnType<typeof outcomes>>;
    let rendered: ReturnType<typeof renderPolicy>;
    try {
      expected = await outcomes(fromConfig);
      rendered = renderPolicy(fromConfig.gateway.config(), { dst: ["tag:keyless"] });
    } finally {
      await fromConfig.close();
    }
    assert.deepEqual(rendered.warnings, []);
    // What tailscaled would deliver to the gateway: every rendered grant whose src selects the peer, values concatenated.
    const capMapFor = (identity: Pick<Identity, "login" | "tags" | "groups" | "principal">) => {
      const values: unknown[] = [];
      for (const g of rendered.fragment.grants) {
        if (g.src.some((s) => srcMatches(s, { ...identity, nodeId: null, nodeName: null, capMap: {}, addr: "" }))) values.push(...(g.app[CAP] ?? []));
      }
      return { [CAP]: values };
    };
    const tailnetPeers = Object.fromEntries(
      Object.entries(peers).map(([ip, p]) => {
        const tags = "tags" in p ? p.tags : [];
        const login = "login" in p ? p.login : null;
        const groups = "groups" in p ? p.groups : [];
        return [ip, { ...p, capMap: capMapFor({ login, tags, groups, principal: tags.length ? tags.join(",") : login! }) }];
      }),
    );
    const fromTailnet = await startHarness({ peers: tailnetPeers, config: () => ({ quotas, config_grants: false, grants }) });
    try {
      const actual = await outcomes(fromTailnet);
      assert.deepEqual(actual, expected);
      assert.ok(expected.statuses.some((s) => s.endsWith(" 200")) && expected.statuses.some((s) => s.endsWith(" 403")));
      assert.deepEqual(expected.buckets, ["daily:tag:ci-acme-api", "team"]);
    } finally {
      await fromTailnet.close();
    }
  });
});
