// The secret rules as data: gitleaks' catalogue parsed by a real TOML parser equals what the gateway loads, every rule
// compiles, each credential format of the issue is found (and placeholders, examples and failed checksums are not),
// and hostile text costs bounded time.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "smol-toml";
import { SecretScanner, maskBytes, maskValue, marker } from "../../gateway/guardrails/secrets/body.js";
import { re2ToJs } from "../../gateway/guardrails/secrets/re2.js";
import { compileSecretRules, loadSecretRules } from "../../gateway/guardrails/secrets/rules.js";
import { scanBudget, scanText } from "../../gateway/guardrails/secrets/scan.js";
import { TimeLimit } from "../../gateway/guardrails/bounds/time-limit.js";
import { base62Crc32Valid } from "../../gateway/guardrails/secrets/verify.js";
import { badChecksumToken, checksummedToken, envFile, random } from "./secret-values.js";

const rules = loadSecretRules();
const found = (text: string) => scanText(rules, text, scanBudget(10_000)).map((m) => ({ rule: m.ruleId, secret: text.slice(m.start, m.end), verified: m.verified }));
const rulesFor = (text: string) => found(text).map((f) => f.rule);

const b64url = (s: string) => Buffer.from(s).toString("base64url");

describe("secret rules as data", () => {
  it("the vendored gitleaks.toml parses (smol-toml) to exactly the JSON the gateway loads, and names its release", () => {
    const dir = new URL("../../gateway/guardrails/secrets/", import.meta.url);
    const toml = parse(readFileSync(new URL("gitleaks.toml", dir), "utf8"));
    assert.deepEqual(JSON.parse(readFileSync(new URL("gitleaks.json", dir), "utf8")), JSON.parse(JSON.stringify(toml)));
    assert.match(readFileSync(new URL("README.md", dir), "utf8"), /tag \*\*v8\.30\.1\*\*/);
    assert.match(readFileSync(new URL("gitleaks.LICENSE", dir), "utf8"), /MIT License/);
    // Every rule with a pattern compiled (rules about file paths excepted), keyless' additions after gitleaks'.
    const withRegex = (toml.rules as { regex?: string; path?: string }[]).filter((r) => r.regex !== undefined && r.path === undefined).length;
    assert.ok(withRegex > 200);
    assert.equal(rules.rules.filter((r) => !["docker-hub-pat", "connection-string-password", "azure-storage-account-key", "gcp-service-account", "aws-secret-access-key"].includes(r.id.slice(7))).length, withRegex);
  });

  it("RE2 group flags become JavaScript that matches the same text", () => {
    const js = (p: string) => new RegExp(re2ToJs(p));
    assert.ok(js("(?i)abc").test("AbC"));
    assert.ok(js("x(?i:ab)c").test("xABc") && !js("x(?i:ab)c").test("xabC"));
    assert.ok(js("(?i)a(?-i:B)c").test("ABC") && !js("(?i)a(?-i:B)c").test("AbC"));
    assert.ok(js("(?s:.)").test("\n") && !js("^.$").test("\n"));
    assert.ok(js("[[:alnum:]]{3}\\z").test("a1B") && !js("a\\z").test("a\n"));
    assert.ok(js("(?i)[a-c_-]+").test("B-_") && js("(?P<x>ab)").test("ab"));
    assert.throws(() => re2ToJs("\\pL"), /unsupported/);
    assert.throws(() => compileSecretRules([{ rules: [{ id: "x", regex: "(?" }] }]), /secret rule "x"/);
  });

  it("finds each credential format of the issue", () => {
    const pem = ["-----BEGIN RSA PRIVATE KEY-----", ...Array.from({ length: 6 }, () => randomBytes(48).toString("base64")), "-----END RSA PRIVATE KEY-----"].join("\n");
    const serviceAccount = JSON.stringify({ type: "service_account", project_id: "p", private_key_id: randomBytes(20).toString("hex"), private_key: pem, client_email: "x@p.iam.gserviceaccount.com" }, null, 2);
    const jwt = `${b64url('{"alg":"HS256","typ":"JWT"}')}.${b64url(JSON.stringify({ sub: random.alnum(12), iat: 1700000000 }))}.${random.alnum(43)}`;
    const fineGrained = (() => {
      const head = random.alnum(22);
      const tail = checksummedToken("x").slice(2);
      return `github_pat_${head}_${random.alnum(23)}${tail}`;
    })();
    const cases: [string, string][] = [
      ...["ghp", "gho", "ghu", "ghs", "ghr"].map((p): [string, string] => [`token: ${checksummedToken(p)}`, p === "ghp" ? "github-pat" : p === "gho" ? "github-oauth" : p === "ghr" ? "github-refresh-token" : "github-app-token"]),
      [`GH_TOKEN=${fineGrained}`, "github-fine-grained-pat"],
      [`export AWS_ACCESS_KEY_ID=AKIA${random.upper32(16)}`, "aws-access-token"],
      [`aws_secret_access_key = ${random.alnum(40)}`, "aws-secret-access-key"],
      [serviceAccount, "gcp-service-account"],
      [serviceAccount, "private-key"],
      [pem, "private-key"],
      [`//registry.npmjs.org/:_authToken=${checksummedToken("npm")}`, "npm-access-token"],
      [`password = pypi-AgEIcHlwaS5vcmc${random.alnum(70)}`, "pypi-upload-token"],
      [`docker login -p dckr_pat_${random.alnum(27)}`, "docker-hub-pat"],
      [`SLACK_BOT_TOKEN=xoxb-${"1".repeat(12)}-${"2".repeat(12)}-${random.alnum(24)}`, "slack-bot-token"],
      [`stripe.api_key = "sk_live_${random.alnum(24)}"`, "stripe-access-token"],
      [`Authorization: Bearer ${jwt}`, "jwt"],
      [`DATABASE_URL=postgres://app:${random.alnum(18)}@db.internal:5432/app`, "connection-string-password"],
      [`DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${randomBytes(64).toString("base64")};EndpointSuffix=core.windows.net`, "azure-storage-account-key"],
      [`SECRET_KEY_BASE=${random.alnum(12)}9${random.alnum(40)}`, "generic-api-key"],
    ];
    for (const [text, rule] of cases) assert.ok(rulesFor(text).includes(`secret.${rule}`), `${rule}: ${rulesFor(text).join(", ") || "nothing"} in ${text.slice(0, 60)}`);
    const gh = found(`x=${checksummedToken("ghp")}`).find((f) => f.rule === "secret.github-pat");
    assert.equal(gh?.verified, true);
  });

  it("does not report placeholders, examples, template variables or tokens whose checksum fails", () => {
    for (const text of [
      "GITHUB_TOKEN=${{ secrets.GITHUB_TOKEN }}",
      'password = "changeme"',
      "DATABASE_URL=postgres://user:password@localhost/db",
      "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app",
      "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
      `token=${badChecksumToken("ghp")}`,
      `NPM_TOKEN=${badChecksumToken("npm")}`,
      "PORT=8080\nNODE_ENV=production\nLOG_LEVEL=debug",
      "import { apiKey } from './config'",
    ]) assert.deepEqual(rulesFor(text), [], text);
    assert.ok(base62Crc32Valid(checksummedToken("ghs")) && !base62Crc32Valid(badChecksumToken("ghs")));
  });

  it("redaction replaces the secret with a marker naming the rule, in JSON values and in captured bytes", () => {
    const env = envFile();
    const scanner = new SecretScanner(rules, "k".repeat(32));
    const body = { messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: env.text }] }], model: "m" };
    const scan = scanner.scanBody(body, 5000);
    const github = scan.found.find((f) => f.ruleId === "secret.github-pat");
    assert.deepEqual([github?.place, github?.callId, github?.secret], ["tool_result", "t1", env.github]);
    assert.equal(github?.fingerprint, new SecretScanner(rules, "k".repeat(32)).fingerprint(env.github), "a keyed fingerprint is stable");
    assert.notEqual(github?.fingerprint, new SecretScanner(rules, "j".repeat(32)).fingerprint(env.github));
    const redacted = JSON.stringify(maskValue(body, scan.found));
    assert.ok(!redacted.includes(env.github) && redacted.includes(marker("secret.github-pat")) && redacted.includes("PORT=8080"));
    assert.equal(maskValue(body, []), body, "nothing to mask: the very same object");
    const bytes = maskBytes(Buffer.from(JSON.stringify(body)), scan.found);
    assert.ok(!Buffer.from(bytes).toString().includes(env.github));
    // Not UTF-8 (an AWS event stream): cannot be edited in place, withheld when a secret shows in it.
    const binary = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(env.github)]);
    assert.ok(!Buffer.from(maskBytes(binary, scan.found)).includes(env.github));
  });


  it("attached files in base64 (data: URLs, media data) are scanned as text, and masked inside their encoding", () => {
    const env = envFile();
    const scanner = new SecretScanner(rules, "k".repeat(32));
    const b64 = Buffer.from(env.text).toString("base64");
    const body = {
      input: [{ role: "user", content: [{ type: "input_file", filename: ".env", file_data: `data:text/plain;base64,${b64}` }] }],
      contents: [{ parts: [{ inlineData: { mimeType: "application/octet-stream", data: b64 } }] }],
      messages: [{ content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: b64 } }] }],
    };
    const scan = scanner.scanBody(body, 5000);
    assert.equal(scan.found.filter((f) => f.ruleId === "secret.github-pat").length, 2, "the data: URL and the octet-stream part; never the image");
    const masked = maskValue(body, scan.found);
    const url = masked.input[0]!.content[0]!.file_data;
    assert.ok(url.startsWith("data:text/plain;base64,"));
    assert.match(Buffer.from(url.split(",")[1]!, "base64").toString(), /GITHUB_TOKEN=\[REDACTED secret\.github-pat\]\n/);
    assert.match(Buffer.from(masked.contents[0]!.parts[0]!.inlineData.data, "base64").toString(), /NPM_TOKEN=\[REDACTED secret\.npm-access-token\]/);
    assert.equal(masked.messages, body.messages, "the image is left as it was");
    // A capture of the original body (forwarded unchanged when the action is flag): the encoded secret is masked too.
    const stored = Buffer.from(maskBytes(Buffer.from(JSON.stringify({ input: body.input })), scan.found)).toString();
    assert.ok(!stored.includes(b64) && stored.includes("data:text/plain;base64,"));
    const decoded = Buffer.from((JSON.parse(stored) as typeof masked).input[0]!.content[0]!.file_data.split(",")[1]!, "base64").toString();
    assert.ok(!decoded.includes(env.github) && decoded.includes("PORT=8080"));
  });
  it("hostile text costs bounded time: each 64 KiB input scans in well under a second, and a request's budget stops the rest", () => {
    const N = 64 * 1024;
    const rep = (s: string) => s.repeat(Math.ceil(N / s.length)).slice(0, N);
    for (const s of ["a", "key=", "curl -H x\n", "kind: secret\ndata: x\n", "password=", "ghp_", "eyJ", "://", "-----BEGIN RSA PRIVATE KEY-----", "AKIA"]) {
      const started = performance.now();
      scanText(rules, rep(s), { time: TimeLimit.NONE, exhausted: false });
      const ms = performance.now() - started;
      assert.ok(ms < 2500, `${JSON.stringify(s)}: ${ms.toFixed(0)} ms`);
    }
    const scanner = new SecretScanner(rules);
    const token = checksummedToken("ghp");
    // Slow text first, the tool result with a token last: tool results are scanned first, and text the budget did
    // not reach still gets the quick scan for token formats.
    const slow = {
      system: rep("kind: secret\ndata: x\n"),
      messages: [
        ...Array.from({ length: 20 }, (_, i) => ({ role: "user", content: `${i}${rep("kind: secret\ndata: x\n")}` })),
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t9", content: `GH=${token}` }] },
      ],
    };
    const started = performance.now();
    const scan = scanner.scanBody(slow, 30);
    assert.equal(scan.incomplete, true);
    assert.ok(performance.now() - started < 2500);
    assert.ok(scan.found.some((f) => f.ruleId === "secret.github-pat" && f.callId === "t9"), "the tool result is scanned first");
  });
});
