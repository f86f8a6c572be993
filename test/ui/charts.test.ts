// The dashboard's charts in Chromium: known traffic through the official SDKs, then the JSON the page fetched and the
// table next to each chart are checked against the store, uPlot's canvases against zero size; the viewer's range and
// grouping change the data; a user gets only their own series.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import type { BrowserContext, Page } from "playwright-core";
import { formatDollars } from "../../gateway/config/units.js";
import { StatsResponse } from "../../gateway/ui/schemas/stats.js";
import { anthropicMessage, json } from "../guardrails/responses.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { type TestBrowser, consoleErrors, openBrowser, seriousViolations } from "../helpers/browser.js";
import { all, one } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
const ALICE = "127.0.0.8";
const BOB = "127.0.0.9";
const CHARTS = ["spend", "requests", "tool-calls", "programs", "tokens", "findings", "budgets"];

const sum = (values: readonly (number | null)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0);

describe("dashboard charts in Chromium", () => {
  let h: Harness;
  let browser: TestBrowser;
  let admin: BrowserContext;
  let alice: BrowserContext;
  let from = 0;
  let to = 0;

  before(async () => {
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" }, [ALICE]: { login: "alice@example.com" }, [BOB]: { login: "bob@example.com" } },
      config: () => ({
        // A refill far slower than the test, so the rebuilt balance can be compared with the store's to a few nanodollars.
        quotas: { "daily:<user>": { capacity: "$10.00", rate: "$0.01/month" } },
        grants: [
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "daily:<user>" }] }] } },
          { src: ["bob@example.com"], app: { [CAP]: [{ role: "user", models: "openai/**", quotas: [{ bucket: "daily:<user>" }] }] } },
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
        ],
      }),
    });
    from = Date.now() - 60_000;
    const claude = (who: string) => new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(who), maxRetries: 0 });
    const calls = [
      { id: "toolu_1", name: "Bash", input: { command: "cd src && npm test" } },
      { id: "toolu_2", name: "Bash", input: { command: "sudo npm run build" } },
      { id: "toolu_3", name: "Bash", input: { command: "git status" } },
      { id: "toolu_4", name: "Bash", input: { command: "rm -rf ~" } },
      { id: "toolu_5", name: "mcp__github__get_issue", input: { number: 1 } },
      { id: "toolu_6", name: "Edit", input: { file_path: "src/a.ts", old_string: "a", new_string: "b" } },
    ];
    h.upstream.once(/^\/v1\/messages$/, () => json(anthropicMessage("claude-sonnet-4-6", calls)));
    await claude(ALICE).messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "go" }] });
    await claude(ALICE).messages.create({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    const openai = new OpenAI({ apiKey: "x", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(BOB), maxRetries: 0 });
    await openai.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }] });
    // Bob may not use Claude: a denial.
    await assert.rejects(claude(BOB).messages.create({ model: "claude-opus-4-8", max_tokens: 10, messages: [{ role: "user", content: "x" }] }));
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return ((await one<{ n: number }>(h.gateway.store, "SELECT COUNT(*) AS n FROM requests"))?.n ?? 0) === 4;
    }, 5000, "4 request rows");
    to = Date.now() + 60_000;
    browser = await openBrowser();
    admin = await browser.as(ADMIN);
    alice = await browser.as(ALICE);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  /** Opens a page with charts and returns the stats JSON it fetched, once every chart is drawn. */
  async function open(context: BrowserContext, path: string, width = 1280): Promise<{ page: Page; stats: StatsResponse; url: string; errors: string[] }> {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    const errors = consoleErrors(page);
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    const answer = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/stats");
    await page.goto(`${h.gateway.url}${path}`);
    const res = await answer;
    assert.equal(res.status(), 200, await res.text());
    const stats = StatsResponse.parse(await res.json());
    await page.waitForSelector("[data-stats][data-drawn]");
    return { page, stats, url: res.url(), errors };
  }

  /** A chart's table as rows of cell texts (header row first). */
  const tableOf = (page: Page, chart: string) =>
    page.locator(`[data-chart="${chart}"] [data-table] tr`).evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent ?? "")));

  const window = () => `from=${from}&to=${to}`;

  it("draws every chart from the store's numbers, with a data table of the same numbers", async () => {
    const { page, stats, errors } = await open(admin, `/ui/?${window()}`);
    for (const chart of CHARTS) {
      const size = await page.locator(`[data-chart="${chart}"] canvas`).evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
      assert.ok(size[0]! > 0 && size[1]! > 0, `${chart}: uPlot drew a canvas (${size.join("×")})`);
    }
    const store = h.gateway.store;
    const byModel = await all<{ key: string; cost: number; tokens: number }>(
      store,
      "SELECT provider || '/' || model AS key, COALESCE(SUM(cost_nanos), 0) AS cost, SUM(input_tokens + cache_read_tokens + cache_write_tokens + output_tokens) AS tokens FROM requests GROUP BY provider, model",
    );
    const spend = new Map(stats.spend.series.map((s) => [s.key, { cost: sum(s.cost_nanos), tokens: sum(s.tokens) }]));
    assert.deepEqual(spend, new Map(byModel.map((r) => [r.key, { cost: r.cost, tokens: r.tokens }])));
    assert.ok(sum(stats.spend.series.flatMap((s) => s.cost_nanos)) > 0, "the traffic cost something");

    // The spend table lists exactly the JSON's values, slot by slot and model by model.
    const spendTable = await tableOf(page, "spend");
    assert.deepEqual(spendTable[0]!.slice(1), stats.spend.series.map((s) => s.key));
    assert.equal(spendTable.length - 1, stats.times.length);
    stats.spend.series.forEach((s, col) => s.cost_nanos.forEach((v, row) => assert.equal(spendTable[row + 1]![col + 1], formatDollars(v))));

    const counts = await one<{ n: number; errors: number; denials: number }>(
      store,
      "SELECT COUNT(*) AS n, SUM(CASE WHEN denial IS NULL AND (status >= 400 OR error IS NOT NULL) THEN 1 ELSE 0 END) AS errors, SUM(CASE WHEN denial IS NOT NULL THEN 1 ELSE 0 END) AS denials FROM requests",
    );
    assert.deepEqual([sum(stats.requests.requests), sum(stats.requests.errors), sum(stats.requests.denials)], [counts!.n, counts!.errors, counts!.denials]);
    assert.equal(counts!.denials, 1);
    const requestTable = await tableOf(page, "requests");
    assert.deepEqual(requestTable[0]!.slice(1), ["requests", "errors", "denials"]);
    assert.equal(sum(requestTable.slice(1).map((r) => Number(r[1]))), 4);

    const kinds = await all<{ kind: string; n: number }>(store, "SELECT kind, COUNT(*) AS n FROM tool_calls GROUP BY kind");
    const drawnKinds = Object.fromEntries(stats.tool_calls.map((k) => [k.kind, sum(k.calls)]).filter(([, n]) => n !== 0));
    assert.deepEqual(drawnKinds, Object.fromEntries(kinds.map((k) => [k.kind, k.n])));
    assert.equal(drawnKinds.shell, 6, "alice's four Bash calls, the fake upstream's default call to each of alice and bob");
    assert.equal(drawnKinds.mcp, 1);
    assert.equal(drawnKinds.file_edit, 1);

    // Parsed programs: sudo is a wrapper, `cd src && npm test` runs two programs; the fake upstream's default calls echo.
    assert.deepEqual(
      stats.programs.map((p) => [p.program, p.count]),
      [["echo", 2], ["npm", 2], ["cd", 1], ["git", 1], ["rm", 1]],
    );
    assert.deepEqual((await tableOf(page, "programs")).slice(1), stats.programs.map((p) => [p.program, String(p.count)]));

    const findings = new Map<string, number>();
    for (const r of await all<{ findings: string }>(store, "SELECT findings FROM tool_calls")) {
      for (const f of JSON.parse(r.findings) as { category: string }[]) findings.set(f.category, (findings.get(f.category) ?? 0) + 1);
    }
    // rm -rf ~ is a destructive_fs finding (or, on a stalled machine, an obfuscation one: the analysis hit its time bound).
    assert.ok(findings.size > 0, "at least one finding");
    assert.deepEqual(new Map(stats.findings.map((f) => [f.category, sum(f.counts)])), findings);

    // Burn-down: rebuilt from capacity, rate and charges, it ends where the bucket store says the balance is.
    const quotas = (await (await h.fetchFrom(ADMIN)(`${h.gateway.url}/api/quotas`)).json()) as { buckets: { bucket: string; balance_nanos: number }[] };
    for (const who of ["alice@example.com", "bob@example.com"]) {
      const drawn = stats.budgets.find((b) => b.bucket === `daily:${who}`);
      assert.ok(drawn, `daily:${who} is drawn`);
      const last = drawn.balance_nanos.filter((v): v is number => v !== null).at(-1)!;
      const actual = quotas.buckets.find((b) => b.bucket === `daily:${who}`)!.balance_nanos;
      assert.ok(Math.abs(last - actual) < 1000, `${who}: rebuilt ${last}, store ${actual}`);
      const charged = await one<{ n: number }>(store, "SELECT SUM(charged_nanos) AS n FROM quota_charges WHERE bucket = ?", `daily:${who}`);
      assert.equal(sum(drawn.charged_nanos), charged!.n);
      assert.ok(last < 10_000_000_000, "the balance went down");
    }
    // The table is shown by a real button (keyboard: Tab to it, Enter), and says so.
    const toggle = page.locator('[data-chart="spend"] button');
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    assert.ok((await page.locator('[data-chart="spend"] [data-table]').boundingBox())!.height <= 1, "visually hidden at first");
    await toggle.focus();
    await page.keyboard.press("Enter");
    assert.equal(await toggle.getAttribute("aria-expanded"), "true");
    assert.ok((await page.locator('[data-chart="spend"] [data-table]').boundingBox())!.height > 50, "shown");
    assert.deepEqual(await seriousViolations(page), [], "axe-core");
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("changes the data with the viewer's range and grouping, kept in the URL", async () => {
    const byPrincipal = await open(admin, `/ui/?${window()}`);
    await Promise.all([byPrincipal.page.waitForURL(/group=principal/), byPrincipal.page.getByRole("link", { name: "principal", exact: true }).click()]);
    assert.match(byPrincipal.page.url(), new RegExp(`from=${from}&to=${to}&group=principal|group=principal.*from=${from}`));
    await byPrincipal.page.close();
    const grouped = await open(admin, `/ui/?${window()}&group=principal`);
    assert.match(grouped.url, /group=principal/);
    assert.deepEqual(grouped.stats.spend.series.map((s) => s.key).sort(), ["alice@example.com", "bob@example.com"]);
    assert.equal((await tableOf(grouped.page, "spend"))[0]!.slice(1).sort().join(), "alice@example.com,bob@example.com");
    await grouped.page.close();

    // An hour before the traffic: nothing.
    const earlier = await open(admin, `/ui/?from=${from - 7_200_000}&to=${from - 3_600_000}`);
    assert.equal(sum(earlier.stats.requests.requests), 0);
    assert.deepEqual(earlier.stats.spend.series, []);
    assert.equal(earlier.stats.step_ms, 300_000, "an hour is drawn in 5-minute slots");
    await earlier.page.close();

    const week = await open(admin, "/ui/?range=7d");
    assert.equal(week.stats.to - week.stats.from, 7 * 86_400_000);
    assert.equal(week.stats.step_ms, 21_600_000);
    assert.equal(await week.page.locator('.choices b[aria-current="true"]').first().textContent(), "last 7d");
    await week.page.close();
  });

  it("shows a user only their own series and buckets", async () => {
    const { page, stats } = await open(alice, `/ui/?${window()}&group=principal`);
    assert.deepEqual(stats.spend.series.map((s) => s.key), ["alice@example.com"]);
    const mine = await one<{ n: number }>(h.gateway.store, "SELECT COUNT(*) AS n FROM requests WHERE principal = ?", "alice@example.com");
    assert.equal(sum(stats.requests.requests), mine!.n);
    assert.equal(sum(stats.requests.denials), 0, "bob's denial is not hers");
    assert.deepEqual(stats.budgets.map((b) => b.bucket), ["daily:alice@example.com"]);
    assert.equal(sum(stats.tool_calls.find((k) => k.kind === "shell")!.calls), 5);
    assert.equal(await page.getByRole("link", { name: "principal", exact: true }).count(), 0, "no grouping by principal offered");
    const other = await page.evaluate(async () => (await fetch("/api/stats?principal=bob@example.com")).status);
    assert.equal(other, 403);
    await page.close();
  });

  it("fits a 390 px phone screen without horizontal scrolling", async () => {
    const { page } = await open(alice, `/ui/?${window()}`, 390);
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(widths[0]! <= widths[1]!, `page ${widths[0]} px wide in a ${widths[1]} px viewport`);
    assert.ok((await page.locator('[data-chart="spend"] canvas').evaluate((c: HTMLCanvasElement) => c.width)) > 0);
    assert.deepEqual(await seriousViolations(page), []);
    await page.close();
  });
});
