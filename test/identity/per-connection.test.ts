// Ephemeral CI nodes reuse tailnet addresses: identity must follow the connection, not the IP.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const IP = "127.0.0.7";

describe("identity per connection", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ peers: { [IP]: { tags: ["tag:ci-job-1"], nodeId: "nJOB1" } } });
  });
  after(() => h.close());

  const call = (f: typeof fetch) =>
    f(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    }).then(async (r) => (await r.arrayBuffer(), r.headers.get("x-keyless-request-id")!));
  const nodeOf = async (id: string) => (await waitFor(async () => (await h.gateway.requestLog.get(id))?.row, 3000, id)).node_id;

  it("asks WhoIs once per connection, and a new node on a reused address is a new identity", async () => {
    const first = h.fetchFrom(IP);
    const a1 = await call(first);
    const a2 = await call(first);
    const lookups = h.tailscaled.lookups.length;
    // The job ends; a new ephemeral node gets the same address.
    h.tailscaled.setPeer(IP, { tags: ["tag:ci-job-2"], nodeId: "nJOB2" });
    const a3 = await call(first);
    const b1 = await call(h.fetchFrom(IP));
    assert.equal(await nodeOf(a1), "nJOB1");
    assert.equal(await nodeOf(a2), "nJOB1");
    assert.equal(await nodeOf(a3), "nJOB1", "a kept-alive connection stays with the peer it was opened by");
    assert.equal(await nodeOf(b1), "nJOB2", "a new connection from the reused address is the new node");
    assert.equal(h.tailscaled.lookups.length, lookups + 1, "one WhoIs for the new connection, none for the kept-alive one");
  });

  it("a node that left the tailnet is refused on its next connection", async () => {
    h.tailscaled.setPeer(IP, null);
    const res = await h.fetchFrom(IP)(`${h.gateway.url}/v1/models`);
    // The departed node's identity is not reused, and an address WhoIs cannot place is nobody (never "(loopback)").
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /tailscaled cannot place/);
  });
});
