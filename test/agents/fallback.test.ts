// Fallbacks with the real agent CLIs (Claude Code 2.1.197, Codex 0.171.0), set up as the Action sets up a job, against
// upstreams that fail on cue. A failure before the first byte (529 overloaded, 429 with retry-after, a 503) never
// reaches the CLI: its turn completes on the next target's answer (Bedrock InvokeModel, a second key, a second
// OpenAI key) and the row records every attempt. A failure after the first byte is the CLI's to handle: the gateway
// tries nothing else, and the row says the stream broke.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeCloud, bedrockInvokeFrames, chunked, startFakeCloud } from "../fakes/cloud-upstream.js";
import { type FailingUpstream, startFailingUpstream } from "../fakes/failing-upstream.js";
import { FINAL_TEXT, anthropicTextStream, responsesTextStream } from "../fakes/replies.js";
import { type FakeUpstream, sseResponse, startFakeUpstream } from "../fakes/upstream.js";
import { type Harness, KEYS } from "../helpers/gateway.js";
import type { RequestRow } from "../../gateway/store/requests.js";
import { CODEX_PROFILE } from "../../action/agents.js";
import { BIN, type Job, jsonLines, newJob, runCli } from "./cli.js";
import { ADMIN_ADDRESS, ECHO, assertAttributed, assertKeysSafe, assertSecretsAbsent, ciRows, described, startAgentHarness } from "./e2e.js";
import type { RequestAttemptsTable } from "../../gateway/store/schema.js";

const MAIN_KEY = "sk-ant-CANARY-main-0123456789abcdef";
const SPARE_KEY = "sk-ant-CANARY-spare-0123456789abcdef";
const SPARE_OPENAI_KEY = "sk-CANARY-openai-spare-0123456789abcdef";
const AWS = { accessKeyId: "AKIAKEYLESSGATEWAY01", secretAccessKey: "CANARY-aws-secret-0123456789abcdef", region: "us-east-1" };
const SECRETS = [MAIN_KEY, SPARE_KEY, SPARE_OPENAI_KEY, AWS.secretAccessKey];
/** Claude Code 2.1.197's default model, and Claude on Bedrock under the same account. */
const CLAUDE = "claude-opus-4-8";
const BEDROCK_CLAUDE = "us.anthropic.claude-opus-4-8-v1:0";
const GPT = "gpt-5.5";

interface KeyView {
  provider: string;
  key: string;
  resting_until: number | null;
  rest_reason: string | null;
}
/** An attempt as [provider, key, outcome, status]. */
type Attempt = readonly (string | number | null)[];
type ClaudeEvent = { type?: string; subtype?: string; result?: string; is_error?: boolean };
type CodexEvent = { type?: string; item?: { type?: string; command?: string; exit_code?: number | null; text?: string } };

const claude = (job: Job, prompt: string, timeoutMs?: number) =>
  runCli(BIN.claude, ["-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"], job, timeoutMs ? { timeoutMs } : {});
const codex = (job: Job, prompt: string) =>
  runCli(BIN.codex, ["exec", "--profile", CODEX_PROFILE, "--json", "--skip-git-repo-check", "-m", GPT, prompt], job, { timeoutMs: 60_000 });

const openaiError = (status: number, type: string, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ error: { message, type, param: null, code: null } }), { status, headers: { "content-type": "application/json", ...headers } });

describe("fallbacks with the real agent CLIs", () => {
  let h: Harness;
  let primary: FailingUpstream;
  let cloud: FakeCloud;
  let spare: FakeUpstream;
  before(async () => {
    primary = await startFailingUpstream();
    cloud = await startFakeCloud({ aws: AWS });
    spare = await startFakeUpstream({ keys: { openai: SPARE_OPENAI_KEY } });
    h = await startAgentHarness(
      {
        // Two Anthropic keys on one upstream that fails on cue; Claude on Bedrock after them.
        anthropic: { type: "anthropic", baseurl: primary.url, keys: [{ name: "main", apikey: MAIN_KEY }, { name: "spare", apikey: SPARE_KEY }], models: ["claude-*"] },
        bedrock: { type: "bedrock", region: "us-east-1", baseurl: cloud.url, credentials: { access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey }, models: ["us.anthropic.*"] },
        // The default "openai" provider is the harness's fake upstream; this one holds a second OpenAI key.
        "openai-spare": { type: "openai", baseurl: spare.url, apikey: SPARE_OPENAI_KEY, models: ["gpt-*"] },
      },
      {
        routes: {
          [CLAUDE]: [{ provider: "anthropic" }, { provider: "bedrock", model: BEDROCK_CLAUDE }],
          [GPT]: [{ provider: "openai" }, { provider: "openai-spare" }],
        },
      },
    );
  });
  after(async () => {
    await h.close();
    await primary.close();
    await cloud.close();
    await spare.close();
  });

  const admin = () => h.fetchFrom(ADMIN_ADDRESS);
  const attemptsOf = async (id: string): Promise<Attempt[]> =>
    ((await (await admin()(`${h.gateway.url}/api/requests/${id}/attempts`)).json()) as { attempts: RequestAttemptsTable[] }).attempts.map((a) => [a.provider, a.key_name, a.outcome, a.status]);
  const keyView = async (provider: string, key: string) =>
    ((await (await admin()(`${h.gateway.url}/api/routing/keys`)).json()) as { keys: KeyView[] }).keys.find((k) => k.provider === provider && k.key === key)!;
  const claudeResult = (stdout: string) => (jsonLines(stdout) as ClaudeEvent[]).find((e) => e.type === "result");
  /** Every CI row written since `since`, once the log has caught up, oldest first. */
  const allRows = async (since: number, atLeast: number): Promise<RequestRow[]> => {
    await ciRows(h, since, atLeast);
    return ciRows(h, since, 0);
  };

  it("Claude Code: Anthropic answers 529 overloaded; the turn completes on Bedrock InvokeModel, and the row has both attempts", async () => {
    primary.fail({ kind: "overloaded" });
    cloud.once(/\/invoke-with-response-stream$/, () => chunked(bedrockInvokeFrames(anthropicTextStream(CLAUDE)), "frame", "application/vnd.amazon.eventstream"));
    const job = newJob("claude", h.gateway.url);
    const since = Date.now();
    const [fromPrimary, fromCloud] = [primary.requests.length, cloud.requests.length];
    const run = await claude(job, "say hello");
    assert.equal(run.code, 0, described(run));
    const result = claudeResult(run.stdout);
    assert.equal(result?.subtype, "success");
    assert.equal(result?.result, FINAL_TEXT, "Bedrock's answer");

    const rows = await ciRows(h, since, 1);
    assert.equal(rows.length, 1, "one turn: the CLI never saw the 529, so it retried nothing");
    assertAttributed(rows);
    const [row] = rows;
    assert.deepEqual([row!.provider, row!.model], ["bedrock", BEDROCK_CLAUDE], "the target that answered, priced there");
    assert.ok(row!.flags.includes("fallback"), row!.flags.join());
    const attempts = await attemptsOf(row!.id);
    assert.equal(attempts.length, 2);
    assert.deepEqual([attempts[0]![0], attempts[0]![2], attempts[0]![3]], ["anthropic", "failed", 529]);
    assert.deepEqual(attempts[1], ["bedrock", "default", "answered", 200]);
    assert.equal(primary.requests.length - fromPrimary, 1);
    const sent = cloud.requests.slice(fromCloud);
    assert.deepEqual(sent.map((r) => [r.modelId, r.path.split("/").at(-1)]), [[BEDROCK_CLAUDE, "invoke-with-response-stream"]]);
    assert.equal((JSON.parse(sent[0]!.body) as Record<string, unknown>).anthropic_version, "bedrock-2023-05-31");
    assertSecretsAbsent(run, job, [...SECRETS, ...Object.values(KEYS)]);
  });

  it("Claude Code: a key answered 429 with retry-after; the other key answers, and the refused one rests for the retry-after", async () => {
    primary.fail({ kind: "rate_limited", retryAfterSeconds: 30 });
    const job = newJob("claude", h.gateway.url);
    const since = Date.now();
    const fromPrimary = primary.requests.length;
    const run = await claude(job, "say hello");
    assert.equal(run.code, 0, described(run));
    assert.equal(claudeResult(run.stdout)?.result, FINAL_TEXT);

    const rows = await ciRows(h, since, 1);
    assert.equal(rows.length, 1, "the CLI never saw the 429");
    assertAttributed(rows);
    const [row] = rows;
    assert.deepEqual([row!.provider, row!.model], ["anthropic", CLAUDE]);
    assert.ok(row!.flags.includes("fallback"), row!.flags.join());
    const attempts = await attemptsOf(row!.id);
    assert.equal(attempts.length, 2, JSON.stringify(attempts));
    const [refused, answered] = attempts as [Attempt, Attempt];
    assert.deepEqual([refused[0], refused[2], refused[3]], ["anthropic", "failed", 429]);
    assert.deepEqual([answered[0], answered[2], answered[3]], ["anthropic", "answered", 200]);
    assert.notEqual(refused[1], answered[1], "the other key");
    const keyOf = (name: unknown) => (name === "main" ? MAIN_KEY : SPARE_KEY);
    assert.deepEqual(primary.requests.slice(fromPrimary).map((r) => r.key), [keyOf(refused[1]), keyOf(answered[1])]);

    const rest = await keyView("anthropic", String(refused[1]));
    assert.equal(rest.rest_reason, "429 from anthropic");
    const left = rest.resting_until! - Date.now();
    assert.ok(left > 15_000 && left <= 30_000, `rests for the 30 s retry-after: ${left} ms left`);
    assertSecretsAbsent(run, job, SECRETS);
  });

  it("Claude Code: a stream that breaks after its first event is not retried elsewhere; the row says it broke", async () => {
    primary.fail({ kind: "error_after_first_event" });
    const job = newJob("claude", h.gateway.url);
    const since = Date.now();
    const fromCloud = cloud.requests.length;
    const run = await claude(job, "say hello", 90_000);
    const rows = await allRows(since, 1);
    const [broken, ...later] = rows;
    assert.deepEqual([broken!.provider, broken!.status, broken!.streamed], ["anthropic", 200, true], "the first target's stream went to the CLI");
    assert.match(broken!.error ?? "", /Internal server error/);
    assert.ok(!broken!.flags.includes("fallback"), broken!.flags.join());
    assert.deepEqual(await attemptsOf(broken!.id), [], "one attempt, no fallback: nothing to explain");
    assert.equal(cloud.requests.length, fromCloud, "Bedrock was never asked");
    // Claude Code retries a stream that broke with api_error on its own: a request of its own, which the first
    // target (its scripted failure spent) answers.
    assert.equal(later.length, 1, `the CLI's own retry: ${rows.map((r) => `${r.provider} ${r.status} ${r.error}`).join("; ")}`);
    assert.deepEqual([later[0]!.provider, later[0]!.error, later[0]!.flags.includes("fallback")], ["anthropic", null, false]);
    assert.equal(run.code, 0, described(run));
    assert.equal(claudeResult(run.stdout)?.result, FINAL_TEXT);
  });

  it("Codex: OpenAI answers 503 overloaded; the turn completes with a second OpenAI key, and the row has both attempts", async () => {
    h.upstream.once(/^\/v1\/responses$/, () => openaiError(503, "server_error", "The engine is currently overloaded, please try again later."));
    const job = newJob("codex", h.gateway.url);
    const since = Date.now();
    const [fromUpstream, fromSpare] = [h.upstream.requests.length, spare.requests.length];
    const run = await codex(job, "say hello from the shell");
    assert.equal(run.code, 0, described(run));
    const events = jsonLines(run.stdout) as CodexEvent[];
    const done = (type: string) => events.filter((e) => e.type === "item.completed" && e.item?.type === type).map((e) => e.item!);
    assert.deepEqual(done("command_execution").map((i) => [i.command, i.exit_code]), [[`/bin/bash -lc '${ECHO}'`, 0]], "the spare's tool call ran");
    assert.deepEqual(done("agent_message").map((i) => i.text), [FINAL_TEXT]);

    const rows = await ciRows(h, since, 2);
    assert.equal(rows.length, 2, "the tool call and the closing turn; the CLI never saw the 503");
    assertAttributed(rows);
    const [first, second] = rows;
    assert.deepEqual([first!.provider, first!.model], ["openai-spare", GPT]);
    assert.ok(first!.flags.includes("fallback"), first!.flags.join());
    assert.deepEqual(await attemptsOf(first!.id), [["openai", "default", "failed", 503], ["openai-spare", "default", "answered", 200]]);
    assert.equal(second!.provider, "openai", "the first target again, once it answers");
    assert.deepEqual(await attemptsOf(second!.id), []);
    assert.equal(spare.requests.length - fromSpare, 1);
    assert.equal(spare.requests.at(-1)!.headers.authorization, `Bearer ${SPARE_OPENAI_KEY}`);
    assertKeysSafe(h, fromUpstream, "openai", run, job);
    assertSecretsAbsent(run, job, SECRETS);
  });

  it("Codex: a Responses stream that fails after its first event is not retried elsewhere; the row says it failed", async () => {
    h.upstream.once(/^\/v1\/responses$/, () => {
      const [created] = responsesTextStream(GPT).split(/(?<=\n\n)/);
      const response = (JSON.parse(created!.split("data: ")[1]!) as { response: Record<string, unknown> }).response;
      const failed = { type: "response.failed", sequence_number: 1, response: { ...response, status: "failed", error: { code: "server_error", message: "The server had an error while processing your request." } } };
      return sseResponse(`${created}event: response.failed\ndata: ${JSON.stringify(failed)}\n\n`, { chunkDelayMs: 20 });
    });
    const job = newJob("codex", h.gateway.url);
    const since = Date.now();
    const fromSpare = spare.requests.length;
    const run = await codex(job, "say hello from the shell");
    const rows = await allRows(since, 1);
    const [broken, ...later] = rows;
    assert.deepEqual([broken!.provider, broken!.status, broken!.streamed], ["openai", 200, true], "the first target's stream went to the CLI");
    assert.match(broken!.error ?? "", /The server had an error/);
    assert.ok(!broken!.flags.includes("fallback"), broken!.flags.join());
    assert.deepEqual(await attemptsOf(broken!.id), []);
    assert.equal(spare.requests.length, fromSpare, "the second key's target was never asked");
    // Codex saw the provider's own error (the response.failed event's message) and reconnected by itself; its retry
    // and the rest of the turn went to the first target, which answers again.
    const events = jsonLines(run.stdout) as (CodexEvent & { message?: string })[];
    assert.match(events.find((e) => e.type === "error")?.message ?? "", /^Reconnecting\.\.\. 1\/\d+ \(.*The server had an error while processing your request\.\)$/, described(run));
    assert.equal(run.code, 0, described(run));
    assert.equal(later.length, 2, "the retried tool-call turn and the closing turn");
    for (const row of later) assert.deepEqual([row.provider, row.error, row.flags.includes("fallback")], ["openai", null, false]);
    assert.deepEqual(events.filter((e) => e.type === "item.completed" && e.item?.type === "agent_message").map((e) => e.item!.text), [FINAL_TEXT]);
  });
});
