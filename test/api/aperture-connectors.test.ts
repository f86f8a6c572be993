// Aperture's connector routes, which keyless does not implement: an MCP client pointed at /v1/mcp (the official
// SDK, as an agent's MCP config would drive it) and a call through /v1/connectors/ get a 501 that says so, after the
// same identity check as every route.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const ALICE = "127.0.0.2";
const STRANGER = "127.0.0.3";

describe("Aperture's /v1/mcp and /v1/connectors/", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" } },
      config: () => ({
        grants: [{ src: ["alice@example.com"], app: { "tailscale.com/cap/aperture": [{ role: "user", models: "**", connectors: [{ connector: "github" }] }] } }],
      }),
    });
  });
  after(() => h.close());

  const connect = (from: string) => {
    const transport = new StreamableHTTPClientTransport(new URL(`${h.gateway.url}/v1/mcp`), { fetch: h.fetchFrom(from) });
    return new Client({ name: "agent", version: "1.0.0" }).connect(transport, { timeout: 10_000 });
  };

  it("an MCP client's initialize is answered 501, naming what keyless does not do", async () => {
    await assert.rejects(connect(ALICE), (err: unknown) => {
      assert.ok(err instanceof StreamableHTTPError, String(err));
      assert.equal(err.code, 501);
      assert.match(err.message, /keyless does not proxy Aperture's MCP servers or connectors/);
      return true;
    });
  });

  it("an HTTP connector path too; an unidentified caller is refused before either", async () => {
    const res = await h.fetchFrom(ALICE)(`${h.gateway.url}/v1/connectors/github/repos/o/r`, { method: "GET" });
    assert.equal(res.status, 501);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, "connectors_not_supported");
    const stranger = await h.fetchFrom(STRANGER)(`${h.gateway.url}/v1/mcp`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(stranger.status, 403);
  });
});
