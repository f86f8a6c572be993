// Issue 11, also noted: an OIDC token with an unknown critical header ("crit", RFC 7515 §4.1.11) must be refused as
// a bad token (401), not reported as the issuer being unavailable (503, which invites retries and hides the forgery).
// And since identity now comes before the body, a tailnet node that asks for a session token gets a clear refusal.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const RUNNER = "127.0.0.5";

describe("OIDC token with an unknown critical header", () => {
  let issuer: FakeOidcIssuer;
  let h: Harness;
  before(async () => {
    issuer = await startOidcIssuer();
    h = await startHarness({
      peers: { [RUNNER]: { tags: ["tag:ci-acme-api"] } },
      config: () => ({ github: { oidc: { issuer: issuer.issuer }, repos: { "acme/api": { tags: ["tag:ci-acme-api"] } } } }),
    });
  });
  after(async () => {
    await h.close();
    await issuer.close();
  });

  it("is refused with 401 oidc_unsupported through POST /v1/ci/sessions", async () => {
    const token = await issuer.mint(eventClaims("push"), { audience: "keyless", crit: ["x-keyless-unknown"] });
    const res = await h.fetchFrom(RUNNER)(`${h.gateway.url}/v1/ci/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ oidc_token: token }),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 401, JSON.stringify(body));
    assert.equal(body.error.code, "oidc_unsupported");
    assert.match(body.error.message, /x-keyless-unknown/);
  });

  it("a tailnet node asking for a session token is told it does not need one (never a bearer token for a node)", async () => {
    const token = await issuer.mint(eventClaims("push"), { audience: "keyless" });
    const res = await h.fetchFrom(RUNNER)(`${h.gateway.url}/v1/ci/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ oidc_token: token, session_token: true }),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error.code, "session_token_on_tailnet");
  });
});
