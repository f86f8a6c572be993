// Aperture's config shapes: what loads, what is warned about by name, what still fails; retention in both forms;
// Aperture's positive-balance admission beside keyless's reservation; the import command as a real process.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, parseConfigText } from "../../gateway/config/load.js";
import { QuotaDefinition } from "../../gateway/config/quotas.js";
import type { Identity } from "../../gateway/identity/types.js";
import { accessUnder } from "../../gateway/access/grants.js";
import { type Charge, planReservation } from "../../gateway/quotas/bucket-store.js";

function problems(text: string): string[] {
  try {
    parseConfigText(text, {});
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
}

const grant = (value: object, cap = "tailscale.com/cap/aperture") => JSON.stringify({ grants: [{ src: ["*"], app: { [cap]: [{ role: "user" }, value] } }] });

describe("Aperture configs", () => {
  it("warns about each Aperture field it ignores, by name, and keeps the rest of the grant value", () => {
    const { config, warnings } = parseConfigText(grant({ models: "**", enable_chat_ui: true, set_cors: true, cors_paths: ["/v1/*"], mcp_tools: ["x/*"], connectors: [] }), {});
    const fields = warnings.map((w) => w.split(": ")[0]!.split(".").at(-1)).sort();
    assert.deepEqual(fields, ["connectors", "cors_paths", "enable_chat_ui", "mcp_tools", "set_cors"], warnings.join("\n"));
    const access = accessUnder({ principal: "a@example.com", login: "a@example.com", nodeId: null, nodeName: null, tags: [], groups: [], capMap: {}, addr: "" }, config);
    assert.equal(access.role, "user");
    assert.equal(access.values[1]?.value.models, "**");
  });

  it("still refuses keys neither keyless nor Aperture knows", () => {
    assert.deepEqual(problems(grant({ modles: "**" })), ['grants.0.app.tailscale.com/cap/aperture.1: unknown grant field "modles"']);
    assert.deepEqual(problems(grant({ models: "**", send_hooks: [{ name: "h", send: ["everything"] }] })).length, 1);
    assert.match(problems(`{"providers": {"p": {"baseurl": "https://x.example", "basurl": "y", "models": ["*"]}}}`).join("\n"), /providers\.p: unknown config key "basurl"/);
  });

  it("cloud entries name what they lack; a cost basis must be one Aperture documents", () => {
    const bedrock = `{"providers": {"b": {"baseurl": "https://bedrock.proxy.example", "apikey": "k", "models": ["*"], "compatibility": {"bedrock_converse": true}}}}`;
    assert.deepEqual(problems(bedrock), ["providers.b.region: required: the region (us-east-1, us-east5, global…) when the base URL does not name it"]);
    const vertex = `{"providers": {"v": {"baseurl": "https://europe-west4-aiplatform.googleapis.com", "apikey": "keyfile::${Buffer.from('{"type":"service_account","client_email":"a@b","private_key":"PRIVATE KEY"}').toString("base64")}", "models": ["*"], "compatibility": {"google_raw_predict": true}}}}`;
    assert.deepEqual(problems(vertex), ["providers.v.project: a service account calls one project: name it (project)"]);
    const region = parseConfigText(vertex.replace('"models"', '"project": "p1", "models"'), {}).config.providers.v;
    assert.ok(region?.type === "vertex" && region.region === "europe-west4" && region.credentials.kind === "service_account");
    assert.match(problems(`{"providers": {"o": {"baseurl": "https://x.example", "models": ["*"], "cost_basis": "openrouterr"}}}`).join("\n"), /providers\.o\.cost_basis/);
  });

  it("a hook needs a secret or an apikey", () => {
    assert.match(problems(`{"hooks": {"h": {"url": "https://x.example"}}}`).join("\n"), /hooks\.h: a hook needs "secret" .* or "apikey"/);
    assert.deepEqual(problems(`{"hooks": {"h": {"url": "https://x.example", "apikey": "k", "authorization": "x-goog-api-key"}}}`), []);
    assert.match(problems(`{"hooks": {"h": {"url": "https://x.example", "apikey": "k", "authorization": "basic"}}}`).join("\n"), /hooks\.h\.authorization/);
  });

  it("reads grants under both capabilities, each name configurable, Aperture's off with \"\"", () => {
    const who: Identity = { principal: "a@example.com", login: "a@example.com", nodeId: null, nodeName: null, tags: [], groups: [], capMap: { "corp.example/cap/ai": [{ role: "admin" }] }, addr: "" };
    const role = (extra: object) => accessUnder(who, parseConfigText(JSON.stringify({ ...JSON.parse(grant({ models: "**" })), ...extra }), {}).config).role;
    assert.equal(role({}), "user");
    assert.equal(role({ aperture_capability: "" }), null);
    assert.equal(role({ aperture_capability: "corp.example/cap/ai" }), "admin");
  });

  it("retention: keyless's duration string and Aperture's object", () => {
    const retention = (value: unknown) => parseConfigText(JSON.stringify({ database: { retention: value } }), {}).config.database.retention.afterMs;
    assert.equal(retention(""), null);
    assert.equal(retention("30d"), 30 * 86_400_000);
    assert.equal(retention("0"), 0);
    assert.equal(retention({ duration: "720h", purge: ["captures"] }), 720 * 3_600_000);
    assert.equal(retention({ duration: "0", require_export: true }), 0);
    assert.equal(parseConfigText(JSON.stringify({ database: { retention: { duration: "0", require_export: true } } }), {}).config.database.retention.requireExport, true);
    assert.match(problems(`{"database": {"retention": {"duration": "soon"}}}`).join("\n"), /database\.retention: expected a duration/);
    assert.match(problems(`{"database": {"retention": {"duration": "1d", "purge": ["logs"]}}}`).join("\n"), /database\.retention/);
  });
});

describe("quota admission", () => {
  const charge = (admission: "reserve" | "positive"): Charge => ({
    bucket: `b-${admission}`,
    quota: `b-${admission}`,
    def: QuotaDefinition.parse({ capacity: "$1.00", rate: "$0/day", admission }),
  });
  // $0.10 left in the bucket; the request may cost up to $0.50.
  const plan = (c: Charge) => planReservation([[c]], 500_000_000, () => ({ balance: 100_000_000, carry: 0, updatedMs: 0 }));

  it("reserve (keyless): refuses what the balance cannot cover; positive (Aperture): admits on any positive balance and holds nothing", () => {
    assert.equal(plan(charge("reserve")).result.ok, false);
    const positive = plan(charge("positive")).result;
    assert.ok(positive.ok);
    assert.deepEqual(positive.portions, [[0]]);
    const empty = planReservation([[charge("positive")]], 500_000_000, () => ({ balance: 0, carry: 0, updatedMs: 0 }));
    assert.equal(empty.result.ok, false);
  });

  it("a chain takes the stricter rule", () => {
    const chain = planReservation([[charge("positive"), charge("reserve")]], 500_000_000, () => ({ balance: 100_000_000, carry: 0, updatedMs: 0 }));
    assert.equal(chain.result.ok, false);
  });
});

describe("keyless config import-aperture", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "gateway/cli.ts", ...args], { encoding: "utf8", timeout: 60_000 });

  it("prints a config `config check` accepts; check prints the warnings", () => {
    const dir = mkdtempSync(join(tmpdir(), "keyless-aperture-"));
    const source = join(dir, "aperture.json");
    writeFileSync(source, `{"providers": {"llama": {"baseurl": "http://gpu:8080/v1", "apikey": "k", "models": ["qwen*"]}}, "exporters": {}}`);
    const checked = cli("config", "check", source);
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stderr, /config warning: exporters: ignored/);
    const run = cli("config", "import-aperture", source);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /\/\/ was "http:\/\/gpu:8080\/v1": keyless appends the API version itself\n\s+"baseurl": "http:\/\/gpu:8080",/);
    const target = join(dir, "keyless.jsonc");
    writeFileSync(target, run.stdout);
    const again = cli("config", "check", target);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stderr, "");
    assert.equal(cli("config", "import-aperture", join(dir, "missing.json")).status, 1);
  });
});
