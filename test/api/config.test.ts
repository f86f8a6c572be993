// The live config API and reloads: optimistic concurrency, validation, admin lock-out, audit rows, hot reload that
// keeps the running config when the file turns invalid, and never a secret in a response.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2"; // admin
const BOB = "127.0.0.3"; // user
const sha = (text: string) => createHash("sha256").update(text).digest("hex");

interface ApiAnswer {
  status: number;
  body: Record<string, unknown> & { error?: { code: string; message: string }; problems?: string[] };
}

describe("live config", () => {
  let h: Harness;
  let base: Record<string, unknown>;
  before(async () => {
    process.env.KEYLESS_TEST_ANTHROPIC_KEY = KEYS.anthropic;
    process.env.KEYLESS_TEST_OPENAI_KEY = KEYS.openai;
    h = await startHarness({
      configFile: true,
      peers: { [ALICE]: { login: "alice@example.com" }, [BOB]: { login: "bob@example.com" } },
      config: (url) => ({
        providers: {
          anthropic: { type: "anthropic", baseurl: url, apikey: "${KEYLESS_TEST_ANTHROPIC_KEY}", models: ["claude-*"] },
          openai: { type: "openai", baseurl: url, apikey: "${KEYLESS_TEST_OPENAI_KEY}", models: ["gpt-*"] },
        },
        grants: [
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "admin" }, { models: "**" }] } },
          { src: ["bob@example.com"], app: { [CAP]: [{ role: "user", models: "**" }] } },
        ],
      }),
    });
    base = JSON.parse(readFileSync(h.configPath!, "utf8")) as Record<string, unknown>;
  });
  after(() => h.close());

  const api = async (method: string, path: string, body?: unknown, from = ALICE): Promise<ApiAnswer> => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as ApiAnswer["body"] };
  };
  const read = async () => {
    const { status, body } = await api("GET", "/api/config");
    assert.equal(status, 200, JSON.stringify(body));
    return body as { config: string; hash: string; running_hash: string };
  };
  const withQuota = (name: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...base, quotas: { [name]: { capacity: "$5.00", rate: "$1.00/day" } }, ...extra }, null, 2);
  const bob = () => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(BOB), maxRetries: 0 });

  it("serves the file text with ${ENV} references unexpanded, and its hash; admins only", async () => {
    const got = await read();
    assert.equal(got.config, readFileSync(h.configPath!, "utf8"));
    assert.equal(got.hash, sha(got.config));
    assert.equal(got.running_hash, got.hash);
    assert.ok(got.config.includes("${KEYLESS_TEST_ANTHROPIC_KEY}"));
    assert.ok(!got.config.includes(KEYS.anthropic), "a provider key left the gateway");
    const denied = await api("GET", "/api/config", undefined, BOB);
    assert.equal(denied.status, 403);
    assert.equal((await api("GET", "/api/config/status", undefined, BOB)).status, 403);
  });

  it("applies a PUT with the hash it was read at: file written, config live, audit row with principal and diff", async () => {
    const { hash } = await read();
    const text = withQuota("daily:<user>");
    const put = await api("PUT", "/api/config", { config: text, hash });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.hash, sha(text));
    assert.deepEqual(put.body.restart_required, []);
    assert.equal(readFileSync(h.configPath!, "utf8"), text);
    assert.equal(h.gateway.config().quotas["daily:<user>"]?.capacity, 5_000_000_000);
    const history = await api("GET", "/api/config/history");
    const change = (history.body.changes as { principal: string; source: string; old_hash: string; new_hash: string; diff: string }[])[0]!;
    assert.equal(change.principal, "alice@example.com");
    assert.equal(change.source, "api");
    assert.equal(change.old_hash, hash);
    assert.equal(change.new_hash, sha(text));
    assert.match(change.diff, /^\+  "quotas": \{$/m);
    assert.match(change.diff, /^\+      "capacity": "\$5\.00",$/m);
  });

  it("refuses a stale hash with 409 and leaves the file alone", async () => {
    const { hash: old } = await read();
    const first = await api("PUT", "/api/config", { config: withQuota("a"), hash: old });
    assert.equal(first.status, 200);
    const second = await api("PUT", "/api/config", { config: withQuota("b"), hash: old });
    assert.equal(second.status, 409);
    assert.equal(second.body.error?.code, "stale_hash");
    assert.equal(readFileSync(h.configPath!, "utf8"), withQuota("a"));
    assert.ok(h.gateway.config().quotas.a);
  });

  it("refuses an invalid config with every problem listed, and validates without applying", async () => {
    const { hash } = await read();
    const broken = JSON.stringify({ ...base, basurl: "x", quotas: { "q:<login>": { capacity: "10", rate: "$1/day" } } });
    const put = await api("PUT", "/api/config", { config: broken, hash });
    assert.equal(put.status, 400);
    assert.equal(put.body.error?.code, "invalid_config");
    assert.ok(put.body.problems?.some((p) => p.includes('unknown config key "basurl"')), put.body.problems?.join("\n"));
    assert.ok(put.body.problems?.some((p) => p.includes("unknown template <login>")));
    assert.ok(put.body.problems?.some((p) => p.includes('expected a dollar amount such as "$10.00", got "10"')));
    assert.equal((await read()).hash, hash, "file unchanged");

    const valid = await api("POST", "/api/config/validate", { config: withQuota("c") });
    assert.equal(valid.status, 200);
    assert.equal(valid.body.ok, true);
    assert.equal(h.gateway.config().quotas.c, undefined, "validate does not apply");
    assert.deepEqual(valid.body.warnings, []);
    // An Aperture section keyless does not act on: valid, and said so.
    const aperture = await api("POST", "/api/config/validate", { config: withQuota("c", { model_cost_map: {} }) });
    assert.equal(aperture.status, 200);
    assert.deepEqual(aperture.body.warnings, ["model_cost_map: ignored: keyless prices from its price table; write overrides under `prices`"]);
    assert.equal((await api("POST", "/api/config/validate", { config: "{ nope" })).status, 400);
  });

  it("refuses a change that would lock the editing admin out, or leave no admin at all", async () => {
    const { hash } = await read();
    const grants = (base.grants as { src: string[] }[]).map((g) => g);
    const handedOver = JSON.stringify({ ...base, grants: [{ src: ["carol@example.com"], app: { [CAP]: [{ role: "admin" }] } }, grants[1]] });
    const self = await api("PUT", "/api/config", { config: handedOver, hash });
    assert.equal(self.status, 400);
    assert.equal(self.body.error?.code, "admin_lockout");
    assert.match(self.body.error!.message, /remove your own admin role \(alice@example\.com\)/);
    const nobody = JSON.stringify({ ...base, grants: [grants[1]] });
    const none = await api("PUT", "/api/config", { config: nobody, hash });
    assert.equal(none.status, 400);
    assert.match(none.body.error!.message, /no grant in grants assigns role admin/);
    assert.equal((await read()).hash, hash);
  });

  it("never accepts or serves credentials written literally", async () => {
    const { hash } = await read();
    const providers = base.providers as Record<string, Record<string, unknown>>;
    const literal = JSON.stringify({ ...base, providers: { ...providers, anthropic: { ...providers.anthropic, apikey: "sk-ant-literal-key-123" } } });
    const put = await api("PUT", "/api/config", { config: literal, hash });
    assert.equal(put.status, 400);
    assert.equal(put.body.error?.code, "literal_secrets");
    assert.deepEqual(put.body.problems, ["providers.anthropic.apikey: literal credential"]);
    const asDefault = JSON.stringify({ ...base, providers: { ...providers, anthropic: { ...providers.anthropic, apikey: "${NOPE:-sk-ant-literal-key-123}" } } });
    assert.equal((await api("POST", "/api/config/validate", { config: asDefault })).body.error?.code, "literal_secrets");
  });

  it("reloads when the file changes on disk, records it, and applies it to the next request", async () => {
    const res = await bob().messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    assert.equal(res.type, "message");
    const grants = base.grants as unknown[];
    const text = JSON.stringify({ ...base, grants: [grants[0], { src: ["bob@example.com"], app: { [CAP]: [{ role: "user", models: "openai/**" }] } }] }, null, 2);
    writeFileSync(h.configPath!, text);
    await waitFor(() => h.gateway.config().grants[1]?.app[CAP]?.some((v) => (v as { models?: string }).models === "openai/**"), 3000, "reload");
    const err = await bob().messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.NotFoundError, String(err));
    const change = ((await api("GET", "/api/config/history")).body.changes as { principal: string | null; source: string; new_hash: string }[])[0]!;
    assert.equal(change.source, "watch");
    assert.equal(change.principal, null);
    assert.equal(change.new_hash, sha(text));
  });

  it("keeps the running config when the file turns invalid, reports it at /api/config/status, recovers on SIGHUP", async () => {
    const running = h.gateway.config();
    const runningHash = (await api("GET", "/api/config/status")).body.hash;
    writeFileSync(h.configPath!, '{ "providers": { "anthropic": { "type": "anthropic", "basurl": "x" } } }');
    const status = await waitFor(async () => {
      const s = (await api("GET", "/api/config/status")).body as { last_reload: { ok: boolean; problems: string[] } | null; in_sync: boolean; hash: string };
      return s.last_reload?.ok === false ? s : undefined;
    }, 3000, "failed reload");
    assert.equal(status.hash, runningHash);
    assert.equal(status.in_sync, false);
    assert.ok(status.last_reload!.problems.some((p) => p.includes('unknown config key "basurl"')), status.last_reload!.problems.join("\n"));
    assert.equal(h.gateway.config(), running, "the running config object was not replaced");
    // Still serving with the old config.
    const ok = await new OpenAIish(h, BOB).chat();
    assert.equal(ok, 200);
    // The editor's fix arrives; SIGHUP (reloadConfig) applies it at once.
    const fixed = withQuota("after-fix");
    writeFileSync(h.configPath!, fixed);
    const result = h.gateway.reloadConfig();
    assert.deepEqual(result, { ok: true, problems: [] });
    assert.ok(h.gateway.config().quotas["after-fix"]);
    const after = (await api("GET", "/api/config/status")).body as { in_sync: boolean; last_reload: { ok: boolean; source: string } };
    assert.equal(after.in_sync, true);
    assert.deepEqual([after.last_reload.ok, after.last_reload.source], [true, "sighup"]);
  });

  it("serves nothing from a file that holds literal credentials", async () => {
    const providers = base.providers as Record<string, Record<string, unknown>>;
    const text = JSON.stringify({ ...base, providers: { ...providers, openai: { ...providers.openai, apikey: "sk-literal-openai-456" } } });
    writeFileSync(h.configPath!, text);
    h.gateway.reloadConfig();
    const got = await api("GET", "/api/config");
    assert.equal(got.status, 409);
    assert.equal(got.body.error?.code, "literal_secrets");
    assert.ok(!JSON.stringify(got.body).includes("sk-literal-openai-456"));
    const history = JSON.stringify((await api("GET", "/api/config/history")).body);
    assert.ok(!history.includes("sk-literal-openai-456"), "the audit diff redacts literal credentials");
    assert.ok(history.includes("[redacted]"));
  });
});

/** A raw OpenAI-format call, for a status code only. */
class OpenAIish {
  constructor(
    private readonly h: Harness,
    private readonly from: string,
  ) {}
  async chat(): Promise<number> {
    const res = await this.h.fetchFrom(this.from)(`${this.h.gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    await res.arrayBuffer();
    return res.status;
  }
}
