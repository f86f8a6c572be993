// Issue 11, hole 1: behind `tailscale serve` (or Funnel) tailscaled's proxy connects from loopback and WhoIs cannot
// place the connection; keyless used to make such a caller "(loopback)", which the shipped example grants admin. Here
// the attacker is a loopback address the fake tailscaled does not know, exactly what the gateway saw behind serve.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseConfigText } from "../../gateway/config/load.js";
import { startGateway } from "../../gateway/server.js";
import { type Harness, KEYS, sourceAgent, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2"; // admin, a peer WhoIs knows
const PROXY = "127.0.0.9"; // tailscaled's serve proxy (or any local process): WhoIs has no match
const ALICE_TAILNET = "100.101.102.103"; // what tailscale serve puts in X-Forwarded-For for alice
// The gateway node's own tailnet address (status TailscaleIPs): WhoIs names the node itself, here logged in as its
// owner, an admin. A local process, or tailscale serve with a 100.x backend, connects from it.
const SELF = "127.0.0.60";
const BOB_TAILNET = "100.64.0.7";
const MESSAGE = { model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] };

const peers = {
  [ALICE]: { login: "alice@example.com" },
  [SELF]: { login: "alice@example.com" },
  [ALICE_TAILNET]: { login: "alice@example.com" },
  [BOB_TAILNET]: { tags: ["tag:ci-acme-api"] },
};
// The grants of the example config the review exploited: "(loopback)" is admin with every model.
const grants = [
  { src: ["alice@example.com"], app: { [CAP]: [{ role: "admin" }, { models: "**" }] } },
  { src: ["tag:ci-acme-api"], app: { [CAP]: [{ role: "user", models: "anthropic/**" }] } },
  { src: ["(loopback)"], app: { [CAP]: [{ role: "admin" }, { models: "**" }] } },
];

type Answer = { status: number; message: string; id: string | null };
async function call(f: typeof fetch, url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await f(url, init);
  const text = await res.text();
  let message = text;
  try {
    message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, message, id: res.headers.get("x-keyless-request-id") };
}

describe("hole 1: a loopback connection WhoIs cannot place is nobody", () => {
  let h: Harness;
  before(async () => {
    process.env.KEYLESS_TEST_HOLE1_KEY = KEYS.anthropic;
    h = await startHarness({
      configFile: true,
      peers,
      selfIps: [SELF],
      config: (url) => ({ providers: { anthropic: { type: "anthropic", baseurl: url, apikey: "${KEYLESS_TEST_HOLE1_KEY}", models: ["claude-*"] } }, grants }),
    });
  });
  after(() => h.close());

  it("refuses the attack: reading the config and others' requests, and rewriting the config", async () => {
    const attacker = h.fetchFrom(PROXY);
    const asAlice = await h.fetchFrom(ALICE)(`${h.gateway.url}/api/config`);
    assert.equal(asAlice.status, 200, "alice, a real admin, still reads it");
    const { config, hash } = (await asAlice.json()) as { config: string; hash: string };
    const evil = JSON.stringify({ ...(JSON.parse(config) as object), providers: { anthropic: { type: "anthropic", baseurl: "http://127.0.0.1:9", apikey: "${KEYLESS_TEST_HOLE1_KEY}", models: ["claude-*"] } } });
    const attempts: Array<[string, RequestInit]> = [
      ["/api/config", {}],
      ["/api/requests", {}],
      ["/api/config", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: evil, hash }) }],
      // What tailscale serve would send for a tailnet user: without the opt-in, its headers identify nobody.
      ["/api/config", { headers: { "x-forwarded-for": ALICE_TAILNET, "tailscale-user-login": "alice@example.com" } }],
      ["/v1/messages", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(MESSAGE) }],
    ];
    for (const [path, init] of attempts) {
      const res = await call(attacker, `${h.gateway.url}${path}`, init);
      assert.equal(res.status, 403, `${init.method ?? "GET"} ${path}: ${res.message}`);
      assert.match(res.message, /loopback connection tailscaled cannot place: a local reverse proxy such as `tailscale serve`/);
      assert.match(res.message, /trusted_proxy/, "the message names the fix");
    }
    assert.equal(h.upstream.requests.length, 0, "nothing reached the provider");
    const anthropic = h.gateway.config().providers.anthropic;
    assert.equal(anthropic?.type === "anthropic" ? anthropic.baseurl : null, h.upstream.url, "the config is unchanged");
  });

  it("refuses a connection from the gateway's own tailnet address (WhoIs would name the node's owner)", async () => {
    const res = await call(h.fetchFrom(SELF), `${h.gateway.url}/api/config`, { headers: { "x-forwarded-for": ALICE_TAILNET } });
    assert.equal(res.status, 403, res.message);
    assert.match(res.message, /is this gateway's own tailnet address: a local reverse proxy such as `tailscale serve`/);
  });

  it("refuses Funnel traffic, whatever else the request carries", async () => {
    const res = await call(h.fetchFrom(PROXY), `${h.gateway.url}/v1/models`, { headers: { "tailscale-funnel-request": "?1", "x-forwarded-for": "203.0.113.9" } });
    assert.equal(res.status, 403);
    assert.match(res.message, /Tailscale Funnel are refused/);
  });
});

describe("opt-in trusted_proxy: tailscale-serve", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers,
      selfIps: [SELF],
      config: (_url, socket) => ({ identity: { type: "tailscale", socket, trusted_proxy: "tailscale-serve" }, grants }),
    });
  });
  after(() => h.close());

  const principalOf = async (a: Answer) => {
    assert.equal(a.status, 200, a.message);
    await h.gateway.requestLog.flush();
    return (await waitFor(async () => (await h.gateway.requestLog.get(a.id!))?.row, 3000, a.id!)).principal;
  };
  const post = (f: typeof fetch, headers: Record<string, string>) =>
    call(f, `${h.gateway.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(MESSAGE) });

  it("identifies each request by WhoIs of the forwarded address, per request on one pooled connection", async () => {
    // tailscaled's proxy pools backend connections: one socket carries many callers.
    const agent = sourceAgent(PROXY, { connections: 1 });
    const f = ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher: agent } as RequestInit)) as typeof fetch;
    const seen = h.tailscaled.lookups.length;
    try {
      assert.equal(await principalOf(await post(f, { "x-forwarded-for": ALICE_TAILNET })), "alice@example.com");
      assert.equal(await principalOf(await post(f, { "x-forwarded-for": BOB_TAILNET })), "tag:ci-acme-api");
      assert.equal(await principalOf(await post(f, { "x-forwarded-for": ALICE_TAILNET })), "alice@example.com");
    } finally {
      await agent.close();
    }
    const lookups = h.tailscaled.lookups.slice(seen);
    assert.equal(lookups.filter((a) => a.startsWith(`${PROXY}:`)).length, 1, `one pooled connection, placed (or not) once: ${lookups.join(" ")}`);
    assert.deepEqual(lookups.filter((a) => !a.startsWith(`${PROXY}:`)), [ALICE_TAILNET, BOB_TAILNET, ALICE_TAILNET], "WhoIs of the forwarded address, per request");
  });

  it("refuses what tailscale serve never sends, and callers WhoIs does not know", async () => {
    const f = h.fetchFrom(PROXY);
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /carries no X-Forwarded-For/],
      [{ "x-forwarded-for": `${ALICE_TAILNET}, 10.0.0.1` }, /is not the single address tailscale serve sends/],
      [{ "x-forwarded-for": "100.99.99.99" }, /caller 100\.99\.99\.99 \(forwarded by tailscale serve\) is not a known tailnet peer/],
      [{ "x-forwarded-for": ALICE_TAILNET, "tailscale-funnel-request": "?1" }, /Tailscale Funnel are refused/],
    ];
    for (const [headers, why] of cases) {
      const res = await post(f, headers);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.match(res.message, why);
    }
    // tailscale serve with a backend on the node's own tailnet address connects from that address.
    assert.equal(await principalOf(await post(h.fetchFrom(SELF), { "x-forwarded-for": BOB_TAILNET })), "tag:ci-acme-api");
    assert.equal((await post(h.fetchFrom(SELF), {})).status, 403);
    // A node on the tailnet is its own node: a forwarded header from it changes nothing.
    assert.equal(await principalOf(await post(h.fetchFrom(ALICE), { "x-forwarded-for": BOB_TAILNET })), "alice@example.com");
  });
});

describe("startup says where callers cannot be identified", () => {
  it("warns when a tailscale gateway listens on loopback without trusted_proxy", async () => {
    const said: string[] = [];
    const loaded = parseConfigText(JSON.stringify({ identity: { type: "tailscale", socket: "/nonexistent/tailscaled.sock" }, database: { path: join(mkdtempSync(join(tmpdir(), "keyless-warn-")), "k.db") } }), {});
    const gw = await startGateway({ loaded, listen: "127.0.0.1:0", log: (m) => said.push(m) });
    await gw.close(500);
    assert.ok(said.some((m) => /listening on 127\.0\.0\.1 with identity "tailscale".*trusted_proxy/.test(m)), said.join("\n"));
  });
});

describe("identity local stays on this machine", () => {
  const config = (listen: string) =>
    parseConfigText(JSON.stringify({ listen, identity: { type: "local" }, grants, database: { path: join(mkdtempSync(join(tmpdir(), "keyless-local-")), "k.db") } }), {});

  it("refuses to start on a non-loopback address, loudly", async () => {
    for (const listen of ["0.0.0.0:0", "[::]:0", "100.100.1.1:8080"]) {
      await assert.rejects(startGateway({ loaded: config(listen), log: () => undefined }), /identity "local" .* must listen on a loopback address/, listen);
    }
  });

  it("refuses requests a reverse proxy forwarded (tailscale serve or Funnel on a laptop)", async () => {
    const gw = await startGateway({ loaded: config("127.0.0.1:0"), log: () => undefined });
    try {
      assert.equal((await call(fetch, `${gw.url}/api/requests`)).status, 200, "the machine's own user is (loopback)");
      const proxied: Array<Record<string, string>> = [{ "x-forwarded-for": "100.64.0.7" }, { "tailscale-funnel-request": "?1" }, { forwarded: "for=100.64.0.7" }];
      for (const headers of proxied) {
        const res = await call(fetch, `${gw.url}/api/requests`, { headers });
        assert.equal(res.status, 403, JSON.stringify(headers));
        assert.match(res.message, /reverse proxy|Funnel/);
      }
    } finally {
      await gw.close(500);
    }
  });
});
