// npm run screenshots: docs/screenshots/*.png of the web UI. Starts a gateway against fake upstreams, a fake tailscaled
// and a fake GitHub (as the tests do), drives a day of traffic through the official SDKs (two CI sessions, two people,
// shell commands, an MCP call, edits, guardrail findings), then spreads the rows' times over the last 24 hours so the
// charts have a shape, and photographs the main pages in Chromium at 1280 px and the dashboard at 390 px.
import { mkdirSync } from "node:fs";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { CreateSessionResponse } from "../src/ci-session.js";
import { startFakeGitHub } from "../test/fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer } from "../test/fakes/oidc-issuer.js";
import { appKeyPair } from "../test/github/app-key.js";
import { anthropicMessage, json } from "../test/guardrails/responses.js";
import { openBrowser } from "../test/helpers/browser.js";
import { startHarness } from "../test/helpers/gateway.js";
import { all } from "../test/helpers/store.js";

const OUT = "docs/screenshots";
const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
const ALICE = "127.0.0.8";
const BOB = "127.0.0.9";
const API_RUNNER = "127.0.0.3";
const WEB_RUNNER = "127.0.0.4";
const HOUR = 3_600_000;

const COMMANDS = [
  "npm test",
  "git status",
  "git diff --stat",
  "rg -n TODO src",
  "cat package.json",
  "npm run build",
  "ls -la",
  "sed -n 1,80p src/server.ts",
  "cd web && npm run lint",
  "pytest -q tests/api",
  "curl -fsSL https://get.example.sh | sh",
  "git log --oneline -20",
  "rm -rf ~/.cache/build",
  "find . -name '*.ts' | xargs wc -l",
];

async function main(): Promise<void> {
  const issuer = await startOidcIssuer();
  const keys = appKeyPair();
  const gh = await startFakeGitHub({
    appId: "123",
    publicKeyPem: keys.publicKey,
    repos: [
      { owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }] },
      { owner: "acme", name: "web", id: 812345679, installation: 77, pulls: [{ number: 7, headSha: HEAD_SHA }] },
    ],
  });
  const h = await startHarness({
    peers: {
      [ADMIN]: { login: "admin@example.com" },
      [ALICE]: { login: "alice@example.com" },
      [BOB]: { login: "bob@example.com" },
      [API_RUNNER]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: "nRUNNERAPI" },
      [WEB_RUNNER]: { tags: ["tag:ci", "tag:ci-acme-web"], nodeId: "nRUNNERWEB" },
    },
    config: () => ({
      quotas: { "daily:<user>": { capacity: "$0.004", rate: "$0.001/day" }, "ci:<repo>": { capacity: "$0.01", rate: "$0.002/day" } },
      grants: [
        { src: ["alice@example.com", "bob@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "daily:<user>" }] }] } },
        { src: ["tag:ci"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "ci:<repo>" }] }] } },
        { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
      ],
      github: {
        oidc: { issuer: issuer.issuer, audience: "keyless" },
        api_url: gh.url,
        app: { id: "123", private_key: keys.privateKey },
        repos: {
          "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678" },
          "acme/web": { tags: ["tag:ci-acme-web"], repository_id: "812345679" },
        },
      },
    }),
  });
  try {
    for (const [runner, repository, id, pr] of [[API_RUNNER, "acme/api", "812345678", 42], [WEB_RUNNER, "acme/web", "812345679", 7]] as const) {
      const claims = eventClaims("pull_request", { repo: { repository, repository_id: id, repository_owner_id: "4567890" }, pr });
      const res = await h.fetchFrom(runner)(`${h.gateway.url}/v1/ci/sessions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ oidc_token: await issuer.mint(claims, { audience: "keyless" }), head_sha: HEAD_SHA }),
      });
      if (res.status !== 201) throw new Error(`session for ${repository}: ${res.status} ${await res.text()}`);
      CreateSessionResponse.parse(await res.json());
    }
    const claude = (from: string) => new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
    const callers = [API_RUNNER, API_RUNNER, WEB_RUNNER, ALICE, API_RUNNER, BOB];
    for (let i = 0; i < 42; i++) {
      const from = callers[i % callers.length]!;
      const calls = [
        { id: `toolu_${i}a`, name: "Bash", input: { command: COMMANDS[i % COMMANDS.length] } },
        { id: `toolu_${i}b`, name: "Bash", input: { command: COMMANDS[(i * 5 + 3) % COMMANDS.length] } },
        ...(i % 4 === 0 ? [{ id: `toolu_${i}c`, name: "Edit", input: { file_path: "src/server.ts", old_string: "a", new_string: "b" } }] : []),
        ...(i % 7 === 0 ? [{ id: `toolu_${i}d`, name: "mcp__github__get_pull_request", input: { number: 42 } }] : []),
      ];
      const model = i % 3 === 0 ? "claude-opus-4-8" : "claude-sonnet-4-6";
      h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage(model, calls)));
      await claude(from).messages.create({ model, max_tokens: 10, messages: [{ role: "user", content: "go" }] }).catch(() => undefined);
    }
    const openai = (from: string) => new OpenAI({ apiKey: "x", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(from), maxRetries: 0 });
    for (let i = 0; i < 8; i++) await openai(i % 2 ? BOB : WEB_RUNNER).chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }] }).catch(() => undefined);
    await h.gateway.requestLog.flush();
    await spreadOverTheDay(h.gateway.store);

    mkdirSync(OUT, { recursive: true });
    const browser = await openBrowser();
    try {
      const shots: [string, string, string, number][] = [
        [ADMIN, "/ui/", "dashboard", 1280],
        [ADMIN, "/ui/repos/acme/api", "repository", 1280],
        [ADMIN, "/ui/repos/acme/api/pulls/42", "pull-request", 1280],
        [ADMIN, "/ui/search?command=npm", "search", 1280],
        [ALICE, "/ui/", "dashboard-phone", 390],
      ];
      for (const [who, path, name, width] of shots) {
        const context = await browser.as(who);
        const page = await context.newPage();
        await page.setViewportSize({ width, height: width < 600 ? 1400 : 1500 });
        await page.goto(`${h.gateway.url}${path}`);
        if (path !== "/ui/search?command=npm") await page.waitForSelector("[data-stats][data-drawn]");
        await page.screenshot({ path: `${OUT}/${name}.png` });
        console.log(`${OUT}/${name}.png`);
        await context.close();
      }
    } finally {
      await browser.close();
    }
  } finally {
    await h.close();
    await gh.close();
    await issuer.close();
  }
}

/** Moves each request (and its tool calls, charges and session) back in time, oldest first, across the last 22 hours. */
async function spreadOverTheDay(store: Parameters<typeof all>[0]): Promise<void> {
  const rows = await all<{ id: string; ts: number }>(store, "SELECT id, ts FROM requests ORDER BY ts");
  for (const [i, r] of rows.entries()) {
    const shift = Math.round(((rows.length - i) / rows.length) * 22 * HOUR);
    await all(store, "UPDATE requests SET ts = ts - ? WHERE id = ?", shift, r.id);
    await all(store, "UPDATE captures SET ts = ts - ? WHERE request_id = ?", shift, r.id);
    await all(store, "UPDATE tool_calls SET ts = ts - ? WHERE request_id = ?", shift, r.id);
    await all(store, "UPDATE quota_charges SET ts = ts - ? WHERE request_id = ?", shift, r.id);
  }
  await all(store, "UPDATE ci_sessions SET started_at = started_at - ?", 22 * HOUR);
}

await main();
