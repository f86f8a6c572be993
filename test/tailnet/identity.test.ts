// keyless against a real tailnet: real tailscaled nodes joined to Tailscale's testcontrol with real tags, grants
// delivered by the control server as app capabilities, and the official Anthropic SDK calling the gateway's tailnet
// address through each client node's tailscaled. Nothing here answers WhoIs but the gateway node's real tailscaled.
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseConfigText } from "../../gateway/config/load.js";
import { type RunningGateway, startGateway } from "../../gateway/server.js";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { KEYS, defaultProviders } from "../helpers/gateway.js";
import { BIN, newJob, runCli } from "../agents/cli.js";
import { type LabGrant, Tailnet, type TailscaleNode, waitFor } from "./tailnet.js";

const CAP = "keyless.dev/cap/gateway";
const HAIKU = "claude-haiku-4-5";
const SONNET = "claude-sonnet-4-6";

function policy(ciModels: string): LabGrant[] {
  return [
    { src: ["tag:ci-acme-api"], dst: ["tag:ai-gateway"], app: { [CAP]: [{ role: "user", models: ciModels }] } },
    { src: ["alice"], dst: ["tag:ai-gateway"], app: { [CAP]: [{ role: "admin" }, { models: "**" }] } },
  ];
}

describe("keyless on a real tailnet (tailscaled userspace networking, testcontrol)", { timeout: 600_000 }, () => {
  let tailnet: Tailnet;
  let gw: TailscaleNode;
  let ci: TailscaleNode;
  let alice: TailscaleNode;
  let stranger: TailscaleNode;
  let upstream: FakeUpstream;
  let gateway: RunningGateway;
  let base: string;

  before(async () => {
    tailnet = await Tailnet.start({ "tag:ai-gateway": [], "tag:ci-acme-api": [] });
    console.log(`# real tailscaled: ${await tailnet.daemonVersion()} (tailscale.com ${tailnet.bins.version})`);
    [gw, ci, alice, stranger] = await Promise.all([
      tailnet.addNode({ hostname: "ai-gateway", tags: ["tag:ai-gateway"] }),
      tailnet.addNode({ hostname: "ci-acme-api-1", tags: ["tag:ci-acme-api"] }),
      tailnet.addNode({ hostname: "alice" }),
      tailnet.addNode({ hostname: "stranger" }),
    ]);
    await tailnet.setGrants(policy("anthropic/claude-haiku-*"));
    upstream = await startFakeUpstream({ keys: KEYS });
    const config = {
      identity: { type: "tailscale", socket: gw.socket },
      providers: defaultProviders(upstream.url),
      // Grants come only from the tailnet policy: what the control server sends is all keyless knows.
      config_grants: false,
      grants: [],
      database: { path: join(mkdtempSync(join(tmpdir(), "keyless-tailnet-")), "keyless.db") },
    };
    // Userspace networking: tailscaled forwards tailnet connections for <gateway ip>:<port> to 127.0.0.1:<port>.
    gateway = await startGateway({ loaded: parseConfigText(JSON.stringify(config), {}), listen: "127.0.0.1:0", logIntervalMs: 20, log: () => undefined });
    base = `http://${gw.ip}:${gateway.port}`;
  });

  after(async () => {
    await gateway?.close(1000);
    await upstream?.close();
    await tailnet?.close();
  });

  /** The official SDK on `node`, reaching the gateway over the tailnet on a fresh connection. */
  function sdk(node: TailscaleNode, timeout = 15_000) {
    const dispatcher = node.proxyAgent();
    const fetchVia = ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch;
    return { client: new Anthropic({ apiKey: "placeholder", baseURL: base, fetch: fetchVia, maxRetries: 0, timeout }), fetch: fetchVia };
  }

  const ask = (node: TailscaleNode, model: string, timeout?: number) => sdk(node, timeout).client.messages.create({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] });

  test("nodes joined with their real tags; the CI node's principal is its tags, the user's is their login", async () => {
    const nodes = await tailnet.labNodes();
    assert.deepEqual(nodes.find((n) => n.hostname === "ci-acme-api-1")?.tags, ["tag:ci-acme-api"]);
    assert.equal(nodes.find((n) => n.hostname === "alice")?.tags, null);

    const reply = await ask(ci, HAIKU);
    assert.equal(reply.type, "message");
    await assert.rejects(ask(ci, SONNET), (err: APIError) => {
      assert.match(err.message, new RegExp(`not available to tag:ci-acme-api: no grant allows anthropic/${SONNET}`));
      return true;
    });

    // alice's login, as the gateway's tailscaled reports it through the real CLI.
    const who = JSON.parse(await gw.cli("whois", "--json", alice.ip)) as { UserProfile: { LoginName: string } };
    const login = who.UserProfile.LoginName;
    assert.match(login, /@/);
    assert.equal((await ask(alice, SONNET)).type, "message");
    // The request log is written in batches: wait for both rows, read by alice (admin) over the tailnet.
    const principals = await waitFor("both requests in the log", async () => {
      const res = await sdk(alice).fetch(`${base}/api/requests?limit=10`);
      assert.equal(res.status, 200);
      const rows = ((await res.json()) as { requests: { principal: string }[] }).requests;
      const seen = [...new Set(rows.map((r) => r.principal))].sort();
      return seen.length === 2 ? seen : undefined;
    });
    assert.deepEqual(principals, [login, "tag:ci-acme-api"].sort());
  });

  test("the provider key reaches the fake upstream on the gateway's side and nothing else", async () => {
    assert.ok(upstream.requests.length > 0);
    assert.ok(upstream.requests.every((r) => JSON.stringify(r.headers).includes(KEYS.anthropic)));
    assert.ok(upstream.requests.every((r) => !JSON.stringify(r.headers).includes("placeholder")), "client credentials never reach the upstream");
    const { fetch: viaCi } = sdk(ci);
    const res = await viaCi(`${base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: HAIKU, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    const text = `${JSON.stringify([...res.headers])}${await res.text()}`;
    assert.equal(res.status, 200);
    for (const key of Object.values(KEYS)) assert.ok(!text.includes(key));
  });

  test("a grant changed at the control server reaches keyless through WhoIs CapMap without a restart", async () => {
    await tailnet.setGrants(policy("anthropic/claude-*"));
    await waitFor("the new grant to reach the gateway's tailscaled", async () => ((await ask(ci, SONNET)).type === "message" ? true : undefined), 20_000);
    await tailnet.setGrants(policy("anthropic/claude-haiku-*"));
    await waitFor(
      "the narrowed grant",
      async () => ask(ci, SONNET).then(() => undefined, (err: APIError) => (err.status === 404 ? true : undefined)),
      20_000,
    );
  });

  test("Claude Code (the real CLI) on the CI node, through its tailscaled's HTTP proxy, is attributed to the CI node's tags", async () => {
    await tailnet.setGrants(policy("anthropic/claude-*"));
    await waitFor("the wider grant", async () => ((await ask(ci, SONNET)).type === "message" ? true : undefined), 20_000);
    const since = Date.now();
    const proxy = `http://127.0.0.1:${ci.httpProxyPort}`;
    const job = newJob("claude", base, { HTTP_PROXY: proxy, HTTPS_PROXY: proxy, http_proxy: proxy, https_proxy: proxy });
    const run = await runCli(BIN.claude, ["-p", "say hello from the shell", "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"], job, { timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`);
    const ciNodeId = (await tailnet.labNodes()).find((n) => n.hostname === "ci-acme-api-1")?.id;
    const rows = await waitFor("Claude Code's requests in the log", async () => {
      await gateway.requestLog.flush();
      const found = (await gateway.requestLog.list({ limit: 50 })).filter((r) => r.ts >= since && r.principal === "tag:ci-acme-api");
      return found.length >= 2 ? found : undefined;
    });
    assert.ok(rows.every((r) => r.status === 200 && r.node_id === ciNodeId), "every turn was the CI node's, identified by the real WhoIs");
    await tailnet.setGrants(policy("anthropic/claude-haiku-*"));
  });

  test("an untagged node without a grant is refused", async () => {
    await assert.rejects(ask(stranger, HAIKU), (err: APIError) => {
      assert.equal(err.status, 403);
      assert.match(err.message, /no role granted/);
      return true;
    });
  });

  test("a node expired at the control server is refused on its next connection", async () => {
    assert.equal((await ask(alice, HAIKU)).type, "message");
    await tailnet.expireNode("alice");
    const who = await waitFor("the gateway's tailscaled to flag alice expired", async () => {
      const w = await gw.whois(`${alice.ip}:1`);
      return w.status === 200 && (JSON.parse(w.body) as { Node: { Expired?: boolean } }).Node.Expired === true ? w : undefined;
    });
    // What the real tailscaled does: alice's own daemon needs a login again, the gateway's keeps her in its netmap
    // flagged Expired (WhoIs still answers 200), and the tunnel is gone, so she gets no answer at all.
    console.log(`# WhoIs of an expired peer: ${who.status}, Node.Expired=true`);
    assert.equal((JSON.parse(await alice.cli("status", "--json")) as { BackendState: string }).BackendState, "NeedsLogin");
    await assert.rejects(ask(alice, HAIKU, 5000));
  });

  test("a node deleted at the control server is refused on its next connection", async () => {
    await tailnet.deleteNode("ci-acme-api-1");
    await waitFor("the gateway's tailscaled to forget the CI node", async () => {
      const who = await gw.whois(`${ci.ip}:1`);
      return who.status === 404 ? true : undefined;
    }, 20_000);
    await assert.rejects(ask(ci, HAIKU, 5000));
  });

  test("tailscaled stopped: the gateway fails closed with 503", async () => {
    await gw.stopDaemon();
    const res = await fetch(`http://127.0.0.1:${gateway.port}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: HAIKU, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(res.status, 503);
    assert.match(await res.text(), /tailscaled LocalAPI unreachable/);
  });
});
