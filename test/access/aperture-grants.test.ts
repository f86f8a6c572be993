// An Aperture user's tailnet policy as it is: grant values under tailscale.com/cap/aperture, delivered through WhoIs
// CapMap, give roles, models and quotas; Aperture fields keyless does not act on are named in a warning and never
// cost the rest of the value; a field neither knows still voids the value.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const APERTURE = "tailscale.com/cap/aperture";
const CI = "127.0.0.2"; // Aperture grants with chat-UI and MCP fields
const DEV = "127.0.0.3"; // admin by Aperture grant
const TYPO = "127.0.0.4"; // a value with a field neither Aperture nor keyless knows
const BOTH = "127.0.0.5"; // keyless's capability and Aperture's, merged

describe("Aperture grants from the tailnet policy", () => {
  let h: Harness;
  const warnings: string[] = [];
  before(async () => {
    h = await startHarness({
      peers: {
        [CI]: {
          tags: ["tag:ci", "tag:agents"],
          nodeId: "nCI",
          // As Aperture's docs write them (how-grants-work, manage-spending): role, models, quota, plus UI and MCP fields.
          capMap: {
            [APERTURE]: [
              { role: "user" },
              { models: "anthropic/**", quotas: [{ bucket: "daily:<user>" }], enable_chat_ui: true, mcp_tools: ["github/*"], set_cors: true, cors_paths: ["/v1/*"] },
            ],
          },
        },
        [DEV]: { login: "dev@example.com", capMap: { [APERTURE]: [{ role: "admin" }, { models: "**" }] } },
        [TYPO]: { login: "typo@example.com", capMap: { [APERTURE]: [{ role: "user" }, { modles: "**" }] } },
        [BOTH]: { login: "both@example.com", capMap: { [APERTURE]: [{ role: "user" }], "keyless.dev/cap/gateway": [{ models: "openai/**" }] } },
      },
      log: (m) => warnings.push(m),
      config: () => ({
        grants: [],
        quotas: { "daily:<user>": { capacity: "$0.10", rate: "$0/day" } },
      }),
    });
  });
  after(() => h.close());

  const claude = (from: string) => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
  const gpt = (from: string) => new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(from), maxRetries: 0 });
  const ask = (from: string, max_tokens = 20) => claude(from).messages.create({ model: "claude-sonnet-4-6", max_tokens, messages: [{ role: "user", content: "hi" }] });

  it("a tagged node gets its role, models and quota from Aperture's capability; the UI and MCP fields cost nothing else", async () => {
    const msg = await ask(CI);
    assert.equal(msg.role, "assistant");
    await assert.rejects(
      gpt(CI).chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] }),
      (err: unknown) => err instanceof OpenAI.APIError && err.status === 404 && /no grant allows openai\/gpt-5-mini/.test(err.message),
    );
    await h.gateway.requestLog.flush();
    const buckets = await waitFor(async () => {
      const res = await h.fetchFrom(DEV)(`${h.gateway.url}/api/quotas`);
      const body = (await res.json()) as { buckets: { bucket: string; balance: string }[] };
      return body.buckets.find((b) => b.bucket === "daily:tag:agents,tag:ci");
    }, 3000, "the CI node's bucket");
    assert.notEqual(buckets.balance, "$0.10", "the bucket named by the Aperture grant was charged");
  });

  it("the quota refuses what the bucket cannot hold, in Anthropic's rate-limit shape", async () => {
    await assert.rejects(ask(CI, 10_000), (err: unknown) => err instanceof Anthropic.APIError && err.status === 429 && /quota exceeded: .*daily:tag:agents,tag:ci/.test(err.message));
  });

  it("admin role from Aperture's capability opens the admin API", async () => {
    const res = await h.fetchFrom(DEV)(`${h.gateway.url}/api/requests?limit=1`);
    assert.equal(res.status, 200);
    const denied = await h.fetchFrom(CI)(`${h.gateway.url}/api/requests?limit=1`);
    assert.equal(denied.status, 403);
  });

  it("a field neither Aperture nor keyless knows voids that value only; keyless's capability merges with Aperture's", async () => {
    await assert.rejects(ask(TYPO), (err: unknown) => err instanceof Anthropic.APIError && err.status === 404);
    await assert.rejects(ask(BOTH), (err: unknown) => err instanceof Anthropic.APIError && err.status === 404);
    const chat = await gpt(BOTH).chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] });
    assert.ok(chat.choices.length > 0);
  });

  it("explains which Aperture fields it ignores, by name, once", async () => {
    const ignored = warnings.filter((w) => w.includes("tag:agents,tag:ci"));
    assert.equal(ignored.length, 1, warnings.join("\n"));
    for (const field of ["enable_chat_ui", "mcp_tools", "set_cors", "cors_paths"]) assert.match(ignored[0]!, new RegExp(field));
  });
});
