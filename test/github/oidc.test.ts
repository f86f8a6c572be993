import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createOidcVerifier, type JtiLedger, type OidcVerifier } from "../../gateway/github/oidc.js";
import { eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";

function memoryLedger(): JtiLedger {
  const seen = new Set<string>();
  return { claim: async (jti) => (seen.has(jti) ? false : (seen.add(jti), true)) };
}

describe("OIDC verification", () => {
  let issuer: FakeOidcIssuer;
  let verify: OidcVerifier;
  const audience = "keyless";

  before(async () => {
    issuer = await startOidcIssuer();
    verify = createOidcVerifier({ issuer: issuer.issuer, audience, clockToleranceMs: 30_000, ledger: memoryLedger() });
  });
  after(() => issuer.close());

  for (const event of ["pull_request", "push", "workflow_dispatch", "issue_comment"] as const) {
    it(`accepts a ${event} token and returns its claims`, async () => {
      const result = await verify(await issuer.mint(eventClaims(event), { audience }));
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.claims.event_name, event);
      assert.equal(result.claims.repository_id, "812345678");
    });
  }

  it("fetches the JWKS once and reuses it", async () => {
    const before = issuer.hits.get("/.well-known/jwks") ?? 0;
    for (let i = 0; i < 3; i++) assert.ok((await verify(await issuer.mint(eventClaims("push"), { audience }))).ok);
    assert.equal(issuer.hits.get("/.well-known/jwks") ?? 0, before);
  });

  const refusals: [string, () => Promise<string>, string, RegExp][] = [
    ["a token signed with another key", () => issuer.mint(eventClaims("push"), { audience, signer: "foreign" }), "oidc_signature", /signature does not verify/],
    ["an unsecured alg:none token", () => issuer.mint(eventClaims("push"), { audience, signer: "none" }), "oidc_algorithm", /"none"; only RS256/],
    ["the default owner-URL audience", () => issuer.mint(eventClaims("push")), "oidc_audience", /audience is not "keyless"/],
    ["another issuer", () => issuer.mint(eventClaims("push"), { audience, issuer: "https://evil.example" }), "oidc_issuer", /issuer "https:\/\/evil.example" is not the configured issuer/],
    ["an expired token", () => issuer.mint(eventClaims("push"), { audience, issuedAtOffset: -400, expiresIn: 300 }), "oidc_expired", /has expired/],
    ["garbage", async () => "not-a-jwt", "oidc_malformed", /not a JWT/],
  ];
  for (const [name, token, code, message] of refusals) {
    it(`refuses ${name}`, async () => {
      const result = await verify(await token());
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.equal(result.code, code);
      assert.match(result.message, message);
    });
  }

  it("accepts a token expired by less than the clock tolerance", async () => {
    const result = await verify(await issuer.mint(eventClaims("push"), { audience, issuedAtOffset: -310, expiresIn: 300 }));
    assert.ok(result.ok);
  });

  it("refuses a replayed jti", async () => {
    const token = await issuer.mint(eventClaims("push"), { audience });
    assert.ok((await verify(token)).ok);
    const again = await verify(token);
    assert.equal(again.ok, false);
    if (!again.ok) {
      assert.equal(again.code, "oidc_replay");
      assert.match(again.message, /already used/);
    }
  });

  it("refuses a validly signed token without GitHub claims", async () => {
    const result = await verify(await issuer.mint({ sub: "x", repository_owner: "acme" }, { audience }));
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.message, /lacks GitHub Actions claims.*repository/);
  });

  it("serves the Actions token endpoint with the requested audience", async () => {
    const res = await fetch(`${issuer.requestUrl}&audience=${audience}`, { headers: { Authorization: `Bearer ${issuer.requestToken}` } });
    assert.equal(res.status, 200);
    const { value } = (await res.json()) as { value: string };
    assert.ok((await verify(value)).ok);
    const denied = await fetch(`${issuer.requestUrl}&audience=${audience}`, { headers: { Authorization: "Bearer wrong" } });
    assert.equal(denied.status, 401);
  });

  it("reports an unreachable JWKS as unavailable, not as a bad token", async () => {
    const offline = createOidcVerifier({
      issuer: issuer.issuer,
      jwksUrl: "http://127.0.0.1:1/.well-known/jwks",
      audience,
      clockToleranceMs: 0,
      ledger: memoryLedger(),
    });
    const result = await offline(await issuer.mint(eventClaims("push"), { audience }));
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.code, "oidc_jwks_unavailable");
  });
});
