// An Aperture user's tailnet policy on a real tailnet: grants under tailscale.com/cap/aperture, delivered by the
// control server as app capabilities to the gateway's real tailscaled, give keyless's CI node its role, models and
// quota; the Aperture-only fields in the same value cost nothing else. Nothing here answers WhoIs but tailscaled.
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
import { Tailnet, type TailscaleNode } from "./tailnet.js";

const APERTURE = "tailscale.com/cap/aperture";

describe("Aperture grants on a real tailnet", { timeout: 300_000 }, () => {
  let tailnet: Tailnet;
  let gw: TailscaleNode;
  let ci: TailscaleNode;
  let upstream: FakeUpstream;
  let gateway: RunningGateway;
  let base: string;
  const logs: string[] = [];

  before(async () => {
    tailnet = await Tailnet.start({ "tag:ai-gateway": [], "tag:ci": [] });
    [gw, ci] = await Promise.all([tailnet.addNode({ hostname: "ai", tags: ["tag:ai-gateway"] }), tailnet.addNode({ hostname: "ci-1", tags: ["tag:ci"] })]);
    // As an Aperture user's policy file writes it (how-grants-work, manage-spending).
    await tailnet.setGrants([
      {
        src: ["tag:ci"],
        dst: ["tag:ai-gateway"],
        app: { [APERTURE]: [{ role: "user" }, { models: "anthropic/claude-haiku-*", quotas: [{ bucket: "daily:<user>" }], enable_chat_ui: true }] },
      },
    ]);
    upstream = await startFakeUpstream({ keys: KEYS });
    const config = {
      identity: { type: "tailscale", socket: gw.socket },
      providers: defaultProviders(upstream.url),
      config_grants: false,
      grants: [],
      quotas: { "daily:<user>": { capacity: "$0.05", rate: "$0/day" } },
      database: { path: join(mkdtempSync(join(tmpdir(), "keyless-aperture-tailnet-")), "keyless.db") },
    };
    gateway = await startGateway({ loaded: parseConfigText(JSON.stringify(config), {}), listen: "127.0.0.1:0", logIntervalMs: 20, log: (m) => logs.push(m) });
    base = `http://${gw.ip}:${gateway.port}`;
  });

  after(async () => {
    await gateway?.close(1000);
    await upstream?.close();
    await tailnet?.close();
  });

  function client(node: TailscaleNode) {
    const dispatcher = node.proxyAgent();
    const fetchVia = ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch;
    return new Anthropic({ apiKey: "placeholder", baseURL: base, fetch: fetchVia, maxRetries: 0, timeout: 15_000 });
  }
  const ask = (model: string, max_tokens = 16) => client(ci).messages.create({ model, max_tokens, messages: [{ role: "user", content: "hi" }] });

  test("role and models from Aperture's capability; other models refused", async () => {
    assert.equal((await ask("claude-haiku-4-5")).type, "message");
    await assert.rejects(ask("claude-sonnet-4-6"), (err: APIError) => err.status === 404 && /not available to tag:ci: no grant allows anthropic\/claude-sonnet-4-6/.test(err.message));
  });

  test("the quota the grant names is charged and enforced", async () => {
    await assert.rejects(ask("claude-haiku-4-5", 20_000), (err: APIError) => err.status === 429 && /quota exceeded: .*daily:tag:ci/.test(err.message));
  });

  test("the Aperture-only field is named once in the log; the rest of the value applied", () => {
    const warned = logs.filter((l) => l.includes("enable_chat_ui"));
    assert.equal(warned.length, 1, logs.join("\n"));
    assert.match(warned[0]!, /grant of tag:ci: Aperture fields keyless does not act on: tailnet: enable_chat_ui/);
  });
});
