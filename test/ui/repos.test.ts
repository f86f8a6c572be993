// Repository and PR pages, search and export with a real CI session (OIDC token, WhoIs attribution, check run on a
// fake GitHub): the pages list the right sessions, search finds a command's text, exports round-trip the filtered
// rows with formula-safe CSV, users see only their own rows, and the pages are axe-clean in Chromium.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { CreateSessionResponse } from "../../src/ci-session.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { appKeyPair } from "../github/app-key.js";
import { anthropicMessage, json } from "../guardrails/responses.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { type TestBrowser, consoleErrors, openBrowser, seriousViolations } from "../helpers/browser.js";
import { all, one } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const RUNNER = "127.0.0.3";
const ADMIN = "127.0.0.2";
const ALICE = "127.0.0.8";
const RUNNER_PRINCIPAL = "tag:ci,tag:ci-acme-api";
/** A command a spreadsheet would evaluate, with a comma and a quote to escape. */
const FORMULA = `=SUM(1,2) && npm test -- --grep "x"`;

/** RFC 4180: quoted cells may hold commas, quotes ("") and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(cell), (cell = "");
    else if (ch === "\r" && text[i + 1] === "\n") row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    else cell += ch;
  }
  return rows;
}

describe("repository and PR pages, search and export", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let h: Harness;
  let browser: TestBrowser;
  let sessionId = "";

  before(async () => {
    issuer = await startOidcIssuer();
    const keys = appKeyPair();
    gh = await startFakeGitHub({
      appId: "123",
      publicKeyPem: keys.publicKey,
      repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }] }],
    });
    h = await startHarness({
      peers: { [RUNNER]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: "nRUNNER1" }, [ADMIN]: { login: "admin@example.com" }, [ALICE]: { login: "alice@example.com" } },
      config: () => ({
        grants: [
          { src: ["*"], app: { [CAP]: [{ role: "user", models: "**" }] } },
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin" }] } },
        ],
        github: {
          oidc: { issuer: issuer.issuer, audience: "keyless" },
          api_url: gh.url,
          public_url: "https://ai.tail1234.ts.net",
          app: { id: "123", private_key: keys.privateKey },
          repos: { "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678" } },
        },
      }),
    });
    const res = await h.fetchFrom(RUNNER)(`${h.gateway.url}/v1/ci/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ oidc_token: await issuer.mint(eventClaims("pull_request"), { audience: "keyless" }), head_sha: HEAD_SHA }),
    });
    assert.equal(res.status, 201);
    sessionId = CreateSessionResponse.parse(await res.json()).session.id;
    const claude = (from: string) => new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
    h.upstream.once(/^\/v1\/messages$/, () =>
      json(anthropicMessage("claude-sonnet-4-6", [
        { id: "toolu_a", name: "Bash", input: { command: FORMULA } },
        { id: "toolu_b", name: "Bash", input: { command: "npm run lint" } },
      ])),
    );
    await claude(RUNNER).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] });
    h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", [{ id: "toolu_c", name: "Bash", input: { command: "npm test --workspace alice" } }])));
    await claude(ALICE).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return ((await one<{ n: number }>(h.gateway.store, "SELECT COUNT(*) AS n FROM requests"))?.n ?? 0) === 2;
    }, 5000, "2 request rows");
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    await gh?.close();
    await issuer?.close();
  });

  const get = async (from: string, path: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`);
    return { status: res.status, headers: res.headers, body: await res.text() };
  };

  it("lists the repository, its PR and session, top commands; the PR page shows each run's requests and tool calls", async () => {
    const repos = await get(ADMIN, "/ui/repos");
    assert.match(repos.body, /<a href="\/ui\/repos\/acme\/api">acme\/api<\/a>/);
    const repo = await get(ADMIN, "/ui/repos/acme/api");
    assert.equal(repo.status, 200);
    assert.match(repo.body, /<a href="\/ui\/repos\/acme\/api\/pulls\/42">#42<\/a>/);
    assert.ok(repo.body.includes(`href="/ci/sessions/${sessionId}"`), "the session, linked to its report");
    assert.ok(repo.body.includes("<code>npm run lint</code>"), "top commands");
    assert.ok(repo.body.includes('data-stats="/api/stats?repository=acme%2Fapi"'), "charts scoped to the repository");

    const pr = await get(ADMIN, "/ui/repos/acme/api/pulls/42");
    assert.equal(pr.status, 200);
    assert.ok(pr.body.includes(`href="/ci/sessions/${sessionId}"`));
    const requestIds = await all<{ id: string }>(h.gateway.store, "SELECT id FROM requests WHERE session_id = ?", sessionId);
    assert.equal(requestIds.length, 1);
    assert.ok(pr.body.includes(`/ui/requests/${requestIds[0]!.id}`), "the session's request");
    assert.ok(pr.body.includes("npm run lint"), "the session's tool calls");
    assert.ok(!pr.body.includes("--workspace alice"), "alice's call was in no session of this PR");
    assert.equal((await get(ADMIN, "/ui/repos/acme/api/pulls/7")).status, 404);
    assert.equal((await get(ADMIN, "/ui/repos/acme/nothing")).status, 404);

    // The check run's details page links the PR's page.
    const details = await get(ADMIN, `/ci/sessions/${sessionId}`);
    assert.match(details.body, /<a href="\/ui\/repos\/acme\/api\/pulls\/42">Every run of PR #42<\/a>/);
    // The check run's summary (and the job summary) links it absolutely, from the configured public URL.
    const markdown = await get(RUNNER, `/v1/ci/sessions/${sessionId}/summary?format=md`);
    assert.ok(markdown.body.includes("[Every run of PR #42](https://ai.tail1234.ts.net/ui/repos/acme/api/pulls/42)"), markdown.body.slice(0, 400));
  });

  it("users see only repositories and PRs they made requests in", async () => {
    assert.doesNotMatch((await get(ALICE, "/ui/repos")).body, /acme\/api/);
    assert.equal((await get(ALICE, "/ui/repos/acme/api")).status, 404);
    assert.equal((await get(ALICE, "/ui/repos/acme/api/pulls/42")).status, 404);
    assert.match((await get(RUNNER, "/ui/repos")).body, /acme\/api/);
  });

  it("search finds a command by its text, and the requests that ran it", async () => {
    const found = await get(ADMIN, `/ui/search?command=${encodeURIComponent("SUM(1,2)")}`);
    assert.equal(found.status, 200);
    assert.ok(found.body.includes("<code>=SUM(1,2) &amp;&amp; npm test -- --grep &quot;x&quot;</code>"));
    assert.match(found.body, /Requests \(1\)/);
    assert.match(found.body, /Tool calls \(1\)/);
    const npm = await get(ADMIN, "/ui/search?command=NPM");
    assert.match(npm.body, /Tool calls \(3\)/, "case-insensitive, across principals");
    assert.match((await get(ADMIN, "/ui/search?command=100%25")).body, /No tool calls match/, "% is literal text");
    const mine = await get(ALICE, "/ui/search?command=npm");
    assert.match(mine.body, /Tool calls \(1\)/);
    assert.ok(mine.body.includes("--workspace alice"));
    assert.equal((await get(ALICE, `/ui/search?principal=${encodeURIComponent(RUNNER_PRINCIPAL)}`)).status, 403);
  });

  it("exports the filtered rows as JSON and as CSV that round-trips, formula cells quoted", async () => {
    const query = "command=npm&principal=" + encodeURIComponent(RUNNER_PRINCIPAL);
    const asJson = await get(ADMIN, `/api/export/tool-calls?format=json&${query}`);
    assert.equal(asJson.status, 200);
    const rows = (JSON.parse(asJson.body) as { rows: Record<string, string | number | null>[] }).rows;
    const stored = await all<{ id: number }>(h.gateway.store, "SELECT id FROM tool_calls WHERE principal = ? AND command LIKE '%npm%' ORDER BY ts DESC, id DESC", RUNNER_PRINCIPAL);
    assert.deepEqual(rows.map((r) => r.id), stored.map((s) => s.id));
    assert.equal(rows.length, 2);

    const asCsv = await get(ADMIN, `/api/export/tool-calls?format=csv&${query}`);
    assert.match(asCsv.headers.get("content-type") ?? "", /^text\/csv/);
    assert.match(asCsv.headers.get("content-disposition") ?? "", /attachment; filename="keyless-tool-calls\.csv"/);
    const [head, ...cells] = parseCsv(asCsv.body);
    assert.deepEqual(head, Object.keys(rows[0]!));
    const unquote = (c: string) => (/^'[=+\-@\t\r]/.test(c) ? c.slice(1) : c);
    assert.deepEqual(
      cells.map((r) => r.map(unquote)),
      rows.map((r) => Object.values(r).map((v) => (v === null ? "" : String(v)))),
    );
    assert.ok(asCsv.body.includes(`"'=SUM(1,2) && npm test -- --grep ""x"""`), "the formula is shown as text, quoted and escaped");

    const requests = JSON.parse((await get(ADMIN, `/api/export/requests?format=json&${query}`)).body) as { rows: { id: string; session_id: string }[] };
    assert.deepEqual(requests.rows.map((r) => r.session_id), [sessionId]);
    const requestCsv = parseCsv((await get(ADMIN, `/api/export/requests?format=csv&${query}`)).body);
    assert.equal(requestCsv.length, 2);
    assert.equal(requestCsv[1]![0], requests.rows[0]!.id);

    const alice = JSON.parse((await get(ALICE, "/api/export/tool-calls?format=json")).body) as { rows: { principal: string }[] };
    assert.deepEqual([...new Set(alice.rows.map((r) => r.principal))], ["alice@example.com"]);
    assert.equal((await get(ALICE, `/api/export/requests?format=csv&principal=${encodeURIComponent(RUNNER_PRINCIPAL)}`)).status, 403);
    assert.equal((await get(ADMIN, "/api/export/tool-calls?format=xml")).status, 400);
    assert.match((await get(ADMIN, "/ui/tool-calls?kind=shell")).body, /href="\/api\/export\/tool-calls\?kind=shell&amp;format=csv"/, "the list links its export");
  });

  it("renders the repository, PR and search pages axe-clean in Chromium, the repository's charts drawn", async () => {
    const context = await browser.as(ADMIN);
    const page = await context.newPage();
    const errors = consoleErrors(page);
    for (const path of ["/ui/repos", "/ui/repos/acme/api", "/ui/repos/acme/api/pulls/42", "/ui/search?command=npm"]) {
      await page.goto(`${h.gateway.url}${path}`);
      if (path.startsWith("/ui/repos/")) {
        await page.waitForSelector("[data-stats][data-drawn]");
        const sizes = await page.locator("[data-chart] canvas").evaluateAll((cs) => cs.map((c) => (c as HTMLCanvasElement).width));
        assert.ok(sizes.length > 0 && sizes.every((w) => w > 0), `${path}: ${sizes.join()}`);
      }
      assert.deepEqual(await seriousViolations(page), [], `${path}: axe-core`);
    }
    assert.deepEqual(errors, []);
    await context.close();
  });
});
