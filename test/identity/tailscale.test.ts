import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { tailscaleResolver, identityFromWhoIs, WhoIsResponse } from "../../gateway/identity/tailscale.js";
import { localResolver } from "../../gateway/identity/local.js";
import { type FakeTailscaled, startFakeTailscaled, whoisResponse } from "../fakes/tailscaled.js";

describe("tailscale identity (LocalAPI WhoIs)", () => {
  let ts: FakeTailscaled;
  before(async () => {
    ts = await startFakeTailscaled({
      "100.101.102.103": { login: "alice@example.com", nodeId: "nALICE", groups: ["group:eng"] },
      "100.64.0.7": { tags: ["tag:ci-acme-api", "tag:ci"], nodeId: "nCI7", capMap: { "keyless.dev/cap/gateway": [{ role: "user" }] } },
      "127.0.0.1": { login: "via-userspace@example.com" },
      "100.64.0.9": { tags: ["tag:ci-acme-api"], expired: true },
    });
  });
  after(() => ts.close());
  const resolver = () => tailscaleResolver({ socket: ts.socketPath, timeoutMs: 1000 });

  it("a user node is its login", async () => {
    const r = await resolver().resolve({ address: "100.101.102.103", port: 51000 });
    assert.ok(r.ok);
    assert.equal(r.identity.principal, "alice@example.com");
    assert.equal(r.identity.nodeId, "nALICE");
    assert.deepEqual(r.identity.groups, ["group:eng"]);
    assert.equal(ts.lookups.at(-1), "100.101.102.103:51000", "WhoIs gets ip:port");
  });

  it("a tagged node is its sorted tags; tagged-devices is never a principal", async () => {
    const r = await resolver().resolve({ address: "100.64.0.7", port: 1 });
    assert.ok(r.ok);
    assert.equal(r.identity.principal, "tag:ci,tag:ci-acme-api");
    assert.equal(r.identity.login, null);
    assert.deepEqual(r.identity.capMap["keyless.dev/cap/gateway"], [{ role: "user" }]);
  });

  it("a peer whose key expired is refused although WhoIs still answers for it", async () => {
    const r = await resolver().resolve({ address: "100.64.0.9", port: 7 });
    assert.deepEqual(r, { ok: false, status: 403, message: "caller 100.64.0.9:7 is a tailnet node whose key has expired" });
  });

  it("IPv4-mapped IPv6 addresses are normalized", async () => {
    const r = await resolver().resolve({ address: "::ffff:100.101.102.103", port: 2 });
    assert.ok(r.ok);
    assert.equal(ts.lookups.at(-1), "100.101.102.103:2");
  });

  it("an unknown non-loopback peer is refused (403), never given a fallback identity", async () => {
    const r = await resolver().resolve({ address: "100.99.99.99", port: 3 });
    assert.deepEqual(r, { ok: false, status: 403, message: "caller 100.99.99.99:3 is not a known tailnet peer" });
  });

  it("a loopback caller is who WhoIs says (userspace networking); one it cannot place is refused, naming tailscale serve", async () => {
    const known = await resolver().resolve({ address: "127.0.0.1", port: 4 });
    assert.ok(known.ok && known.identity.principal === "via-userspace@example.com");
    const unknown = await resolver().resolve({ address: "127.0.0.5", port: 5 });
    assert.ok(!unknown.ok && unknown.status === 403);
    assert.match(unknown.message, /127\.0\.0\.5:5 is a loopback connection tailscaled cannot place: a local reverse proxy such as `tailscale serve`/);
    assert.match(unknown.message, /listen on the tailnet address and call it from other nodes, or set identity\.trusted_proxy: "tailscale-serve"/);
  });

  it("the gateway's own tailnet address is this host, never the node's owner", async () => {
    const r = await resolver().resolve({ address: "100.100.1.1", port: 6 });
    assert.ok(!r.ok && r.status === 403 && /this gateway's own tailnet address/.test(r.message), JSON.stringify(r));
  });

  it("reads this tailnet's MagicDNS suffix from LocalAPI status", async () => {
    assert.equal(await resolver().tailnetSuffix(), "tail1234.ts.net");
    assert.equal(await tailscaleResolver({ socket: "/nonexistent/tailscaled.sock", timeoutMs: 500 }).tailnetSuffix(), null);
  });

  it("tailscaled unreachable → 503 with the reason", async () => {
    const r = await tailscaleResolver({ socket: "/nonexistent/tailscaled.sock", timeoutMs: 500 }).resolve({ address: "100.1.1.1", port: 1 });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.status === 503 && /LocalAPI unreachable/.test(r.message));
  });

  it("a node with neither tags nor a real user gets no identity", () => {
    const who = WhoIsResponse.parse(whoisResponse("100.1.1.1", { tags: [] }));
    const tagless = { ...who, UserProfile: { ...who.UserProfile, LoginName: "tagged-devices" } };
    assert.equal(identityFromWhoIs(tagless, { address: "100.1.1.1", port: 1 }), null);
  });

  it("local mode: loopback only", async () => {
    const ok = await localResolver().resolve({ address: "127.0.0.1", port: 1 });
    assert.ok(ok.ok && ok.identity.principal === "(loopback)");
    const no = await localResolver().resolve({ address: "100.64.0.7", port: 1 });
    assert.equal(no.ok, false);
  });
});
