// Model aliases through the real HTTP server with the official SDKs: the agent keeps one name, the upstream gets the
// model (or the per-target id) the admin chose, grants match the alias or the resolved model, and the row names both.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { parseConfigText } from "../../gateway/config/load.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const CAP = "keyless.dev/cap/gateway";
const ALIAS_ONLY = "127.0.0.2";
const MODEL_ONLY = "127.0.0.3";
const NEITHER = "127.0.0.4";

describe("model aliases", () => {
  let h: Harness;
  const grant = (login: string, models: string) => ({ src: [login], app: { [CAP]: [{ role: "user", models }] } });
  before(async () => {
    h = await startHarness({
      peers: { [ALIAS_ONLY]: { login: "alias@example.com" }, [MODEL_ONLY]: { login: "model@example.com" }, [NEITHER]: { login: "none@example.com" } },
      config: () => ({
        aliases: { "claude-sonnet": "claude-sonnet-4-6", smart: "gpt-5-mini", "claude-pinned": "claude-opus-4-6" },
        routes: { "claude-opus-4-6": [{ provider: "anthropic", model: "claude-opus-4-6-20260101" }] },
        grants: [
          grant("alias@example.com", "anthropic/claude-sonnet"),
          { src: ["alias@example.com"], app: { [CAP]: [{ models: ["openai/smart", "anthropic/claude-pinned"] }] } },
          grant("model@example.com", "anthropic/claude-sonnet-4-6"),
          grant("none@example.com", "anthropic/claude-haiku-*"),
        ],
      }),
    });
  });
  after(() => h.close());

  const ask = (from: string, model: string) =>
    new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 }).messages.create({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }] });
  const lastUpstreamModel = () => (JSON.parse(h.upstream.requests.at(-1)!.body) as { model: string }).model;

  it("an alias reaches the upstream as the model it points at; the row names that model and the alias", async () => {
    const message = await ask(ALIAS_ONLY, "claude-sonnet");
    assert.equal(message.model, "claude-sonnet-4-6");
    assert.equal(lastUpstreamModel(), "claude-sonnet-4-6");
    await h.gateway.requestLog.flush();
    const [row] = await h.gateway.requestLog.list({ principal: "alias@example.com", limit: 1 });
    assert.equal(row!.model, "claude-sonnet-4-6");
    assert.ok(row!.flags.includes("alias:claude-sonnet"), String(row!.flags));
    assert.ok(row!.cost_nanos !== null && row!.cost_nanos > 0, "priced at the resolved model");
  });

  it("grants match the resolved model too, and refuse a caller granted neither", async () => {
    assert.equal((await ask(MODEL_ONLY, "claude-sonnet")).model, "claude-sonnet-4-6");
    assert.equal((await ask(MODEL_ONLY, "claude-sonnet-4-6")).model, "claude-sonnet-4-6");
    const err = await ask(NEITHER, "claude-sonnet").catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.NotFoundError, String(err));
    assert.match(err.message, /no grant allows anthropic\/claude-sonnet or anthropic\/claude-sonnet-4-6/);
  });

  it("a grant on the alias alone does not open the model under its own name", async () => {
    const err = await ask(ALIAS_ONLY, "claude-sonnet-4-6").catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.NotFoundError, String(err));
  });

  it("OpenAI's SDK: the alias is resolved in the body the upstream gets", async () => {
    const client = new OpenAI({ apiKey: "-", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(ALIAS_ONLY), maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: "smart", messages: [{ role: "user", content: "hi" }] });
    assert.equal(chat.model, "gpt-5-mini");
    assert.equal(lastUpstreamModel(), "gpt-5-mini");
  });

  it("a route's per-target model id is what the upstream gets", async () => {
    const message = await ask(ALIAS_ONLY, "claude-pinned");
    assert.equal(lastUpstreamModel(), "claude-opus-4-6-20260101");
    assert.equal(message.model, "claude-opus-4-6-20260101");
  });

  it("config: an alias of an alias, and a route keyed by an alias, are refused with the path named", () => {
    const chain = () => parseConfigText(JSON.stringify({ aliases: { a: "b", b: "c" } }), {});
    assert.throws(chain, /aliases\.a.*itself an alias/s);
    const routed = () => parseConfigText(JSON.stringify({ aliases: { a: "b" }, routes: { a: [{ provider: "x" }] } }), {});
    assert.throws(routed, /"a" is an alias/);
    assert.throws(() => parseConfigText(JSON.stringify({ routes: { m: [{ provider: "nope" }] } }), {}), /no provider named "nope"/);
  });
});
