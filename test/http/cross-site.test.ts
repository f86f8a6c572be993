import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import http from "node:http";
import { crossSiteReason, hostAllowed } from "../../gateway/http/cross-site.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const ADMIN = "127.0.0.2";

describe("cross-site browser requests", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" } },
      config: () => ({
        grants: [{ src: ["admin@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }],
        quotas: { "daily:<user>": { capacity: "$1.00", rate: "$1.00/day" } },
        allowed_hosts: ["ai.example.com"],
      }),
    });
  });
  after(() => h.close());

  const post = (path: string, headers: Record<string, string>, body: unknown) =>
    h.fetchFrom(ADMIN)(`${h.gateway.url}${path}`, { method: "POST", headers: { "content-type": "text/plain", ...headers }, body: JSON.stringify(body) });

  it("a page on another site cannot spend or refill with the admin's network identity", async () => {
    const before = h.upstream.requests.length;
    const spend = await post("/v1/messages", { origin: "https://evil.example", "sec-fetch-site": "cross-site" }, { model: "claude-sonnet-4-6", max_tokens: 5, messages: [] });
    assert.equal(spend.status, 403);
    assert.match(((await spend.json()) as { error: { message: string } }).error.message, /cross-site browser request refused \(Sec-Fetch-Site: cross-site\)/);
    const refill = await post("/api/quotas/refill", { origin: "http://evil.example" }, { bucket: "daily:admin@example.com", amount: "$1.00" });
    assert.equal(refill.status, 403);
    assert.equal(h.upstream.requests.length, before, "nothing reached the upstream");
  });

  it("agents, SDKs, curl and same-origin pages are unaffected; reads stay open", async () => {
    const ok = await post("/v1/messages", { "content-type": "application/json" }, { model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] });
    assert.equal(ok.status, 200);
    const host = new URL(h.gateway.url).host;
    const sameOrigin = await post("/v1/messages", { "content-type": "application/json", origin: `http://${host}`, "sec-fetch-site": "same-origin" }, { model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] });
    assert.equal(sameOrigin.status, 200);
    const read = await h.fetchFrom(ADMIN)(`${h.gateway.url}/v1/models`, { headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" } });
    assert.equal(read.status, 200);
  });

  it("refuses a Host that an outside DNS name could give it (DNS rebinding), serves tailnet names", async () => {
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`${h.gateway.url}/v1/models`, { localAddress: ADMIN, headers: { host } }, (res) => (res.resume(), resolve(res.statusCode ?? 0)));
        req.on("error", reject);
        req.end();
      });
    assert.equal(await status("rebind.attacker.example:8080"), 403);
    // Every tailnet's names end in ts.net; only this tailnet's (LocalAPI status MagicDNSSuffix) name this gateway.
    assert.equal(await status("rebind.tail9999.ts.net"), 403);
    for (const ok of ["ai-gateway", "ai-gateway:80", "ai.tail1234.ts.net", "100.101.102.103:8080", "[fd7a:115c:a1e0::1]:80", "localhost:8080", "ai.example.com"]) {
      assert.equal(await status(ok), 200, ok);
    }
    assert.equal(hostAllowed("AI.Tail1234.TS.NET.", [], "tail1234.ts.net"), true);
    assert.equal(hostAllowed("ai.tail9999.ts.net", [], "tail1234.ts.net"), false, "another tailnet's name");
    assert.equal(hostAllowed("ai.tail1234.ts.net", [], null), false, "a tailnet name while the tailnet is unknown");
    assert.equal(hostAllowed("gateway.corp.example", [], "tail1234.ts.net"), false);
  });

  it("classifies the headers browsers send", () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    assert.equal(crossSiteReason("POST", headers({})), null);
    assert.equal(crossSiteReason("POST", headers({ "sec-fetch-site": "none" })), null);
    assert.match(crossSiteReason("PUT", headers({ "sec-fetch-site": "same-site" })) ?? "", /same-site/);
    assert.match(crossSiteReason("POST", headers({ origin: "null", host: "gw" })) ?? "", /Origin: null/);
    assert.equal(crossSiteReason("POST", headers({ origin: "http://gw", host: "gw" })), null);
    assert.equal(crossSiteReason("GET", headers({ "sec-fetch-site": "cross-site" })), null);
  });
});
