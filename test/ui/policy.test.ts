// The policy editor in headless Chromium: an admin adds a quota and grants in the forms, reviews the diff and saves;
// the next SDK request is admitted or refused by what was saved. A save that races another is shown, not
// overwritten; the file's comments survive; history names the admin and restores; users see only their own access.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { applyEdits, modify, parse } from "jsonc-parser";
import type { BrowserContext, Page } from "playwright-core";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { type TestBrowser, consoleErrors, openBrowser, seriousViolations } from "../helpers/browser.js";

const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
const BOB = "127.0.0.3";
const DAVE = "127.0.0.4";
const CAROL = "127.0.0.5";
const HEAD_COMMENT = "// keyless for the test team: this comment must survive every save";
const GRANTS_COMMENT = "// who may do what (kept by the editor)";

describe("policy editor in Chromium", () => {
  let h: Harness;
  let browser: TestBrowser;
  let admin: BrowserContext;
  let bob: BrowserContext;

  const file = () => readFileSync(h.configPath!, "utf8");
  const sdk = (from: string) => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0, timeout: 20_000 });
  const ask = (from: string) => sdk(from).messages.create({ model: "claude-sonnet-4-6", max_tokens: 16, messages: [{ role: "user", content: "hi" }] });
  const api = async (method: string, path: string, body?: unknown, from = ADMIN) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  async function openEditor(): Promise<Page> {
    const page = await admin.newPage();
    await page.goto(`${h.gateway.url}/ui/policy`);
    await page.locator('[data-validation="valid"]').waitFor();
    return page;
  }

  /** Fills an add form (found by its legend) and submits it. */
  async function add(page: Page, legend: string, values: Record<string, string>, submit: string): Promise<void> {
    const form = page.locator("form.add-form").filter({ has: page.getByText(legend, { exact: true }) });
    for (const [label, value] of Object.entries(values)) {
      const control = form.getByLabel(label, { exact: true });
      if ((await control.evaluate((e) => e.tagName)) === "SELECT") await control.selectOption(value);
      else await control.fill(value);
    }
    await form.getByRole("button", { name: submit }).click();
    assert.equal((await form.locator('[role="alert"]').textContent())?.trim() ?? "", "", `${legend}: the form refused`);
  }

  async function save(page: Page): Promise<void> {
    await page.locator('[data-validation="valid"]').waitFor();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.locator("[data-save-result]").getByText("Saved and applied").waitFor();
  }

  before(async () => {
    process.env.KEYLESS_TEST_ANTHROPIC_KEY = KEYS.anthropic;
    h = await startHarness({
      configFile: true,
      peers: {
        [ADMIN]: { login: "admin@example.com" },
        [BOB]: { login: "bob@example.com" },
        [DAVE]: { login: "dave@example.com" },
        [CAROL]: { login: "carol@example.com" },
      },
      config: (url) => ({
        providers: { anthropic: { type: "anthropic", baseurl: url, apikey: "${KEYLESS_TEST_ANTHROPIC_KEY}", models: ["claude-*"] } },
        grants: [
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
          { src: ["carol@example.com"], app: { [CAP]: [{ role: "user", models: "**" }] } },
        ],
      }),
    });
    // The harness writes plain JSON; people write comments.
    writeFileSync(h.configPath!, `${HEAD_COMMENT}\n${file().replace('  "grants": [', `  ${GRANTS_COMMENT}\n  "grants": [`)}`);
    assert.deepEqual(h.gateway.reloadConfig(), { ok: true, problems: [] });
    browser = await openBrowser();
    admin = await browser.as(ADMIN);
    bob = await browser.as(BOB);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it("adds a quota and grants in the forms, shows the diff, saves; the next SDK requests are admitted or refused by it", async () => {
    await assert.rejects(ask(BOB), Anthropic.PermissionDeniedError, "bob has no grant yet");
    const page = await openEditor();
    const errors = consoleErrors(page);
    await add(page, "Add a quota", { "bucket name": "bob-budget", capacity: "$5.00", "refill rate": "$0.00/day" }, "Add quota");
    await add(page, "Add a quota", { "bucket name": "zero", capacity: "$0.00", "refill rate": "$0.00/day" }, "Add quota");
    await add(page, "Add a grant", { "who (src, comma-separated)": "bob@example.com", role: "user", models: "anthropic/**", "quotas (bucket names)": "bob-budget" }, "Add grant");
    await add(page, "Add a grant", { "who (src, comma-separated)": "dave@example.com", role: "user", models: "**", "quotas (bucket names)": "zero" }, "Add grant");
    // The new rows are forms of their own now.
    assert.equal(await page.getByLabel("capacity of bob-budget").inputValue(), "$5.00");
    await page.getByRole("button", { name: "Show changes" }).click();
    const diff = (await page.locator("[data-diff] pre.diff").textContent()) ?? "";
    assert.match(diff, /^\+\s+"bob-budget": \{$/m);
    assert.match(diff, /^\+\s+"src": \[\s*$|^\+\s+"src": \["bob@example\.com"\]/m);
    assert.ok(!/^-/m.test(diff.replace(/^---.*$/m, "")), `only additions:\n${diff}`);
    assert.equal(file().includes("bob-budget"), false, "nothing is written before Save");
    await save(page);

    const saved = file();
    assert.ok(saved.startsWith(`${HEAD_COMMENT}\n`), "the head comment survived");
    assert.ok(saved.includes(GRANTS_COMMENT), "the comment inside survived");
    const config = parse(saved) as { quotas: Record<string, unknown>; grants: { src: string[] }[] };
    assert.deepEqual(config.quotas["bob-budget"], { capacity: "$5.00", rate: "$0.00/day" });
    assert.deepEqual(config.grants.map((g) => g.src[0]), ["admin@example.com", "carol@example.com", "bob@example.com", "dave@example.com"]);

    const admitted = await ask(BOB);
    assert.equal(admitted.type, "message");
    await assert.rejects(ask(DAVE), Anthropic.RateLimitError, "dave's only bucket holds $0.00");
    // The unchanged grant still works.
    assert.equal((await ask(CAROL)).type, "message");
    assert.deepEqual(errors, []);
    await page.close();
  });

  it("explains what would happen for a principal and a model with the running config", async () => {
    const page = await openEditor();
    const panel = page.locator(".policy-explain");
    await panel.getByLabel("principal (login or tag:a,tag:b)").fill("dave@example.com");
    await panel.getByLabel("model").fill("claude-sonnet-4-6");
    await panel.getByRole("button", { name: "Explain" }).click();
    const result = panel.locator("[data-explanation]");
    await result.waitFor();
    assert.equal(await result.locator("[data-role]").textContent(), "user");
    assert.equal(await result.locator("[data-allowed]").getAttribute("data-allowed"), "true");
    assert.match((await result.locator("[data-buckets]").textContent()) ?? "", /zero \(quota zero: \$0\.00, refills \$0\.00\/day\)/);
    assert.match((await result.textContent()) ?? "", /config#3 dave@example\.com/);
    await page.close();
  });

  it("shows a save that lost a race with another, overwrites nothing, and re-applies the edit on the new version", async () => {
    const page = await openEditor();
    // Someone else saves through the API after the page loaded.
    const read = (await api("GET", "/api/config")).body as { config: string; hash: string };
    const theirs = applyEdits(read.config, modify(read.config, ["quotas", "elsewhere"], { capacity: "$1.00", rate: "$1.00/day" }, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
    assert.equal((await api("PUT", "/api/config", { config: theirs, hash: read.hash })).status, 200);

    await page.getByLabel("capacity of bob-budget").fill("$6.00");
    await page.getByLabel("capacity of bob-budget").press("Enter");
    await page.locator('[data-validation="valid"]').waitFor();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const conflict = page.locator("[data-conflict]");
    await conflict.getByText("Someone else saved the config since you loaded it").waitFor();
    assert.match((await conflict.locator("pre.diff").textContent()) ?? "", /^\+\s+"elsewhere": \{$/m);
    assert.equal(file(), theirs, "their save was not overwritten");
    assert.equal(h.gateway.config().quotas["bob-budget"]?.capacity, 5_000_000_000);

    await conflict.getByRole("button", { name: "Load their version and re-apply my edits" }).click();
    await save(page);
    const merged = parse(file()) as { quotas: Record<string, { capacity: string }> };
    assert.equal(merged.quotas["bob-budget"]?.capacity, "$6.00");
    assert.equal(merged.quotas.elsewhere?.capacity, "$1.00");
    assert.ok(file().includes(HEAD_COMMENT) && file().includes(GRANTS_COMMENT));
    await page.close();
  });

  it("lists the changes with the admin who made them, and restores an earlier version as a new change", async () => {
    const page = await openEditor();
    const rows = page.locator("table.history tr[data-change]");
    await rows.first().waitFor();
    assert.equal(await rows.first().locator("[data-principal]").textContent(), "admin@example.com");
    // Newest first: the re-applied save, the other admin's API save, the first save, the reload that added comments.
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute("data-change"))));
    const beforeRestore = file();
    const target = ids[1]!;
    const entry = (await api("GET", `/api/config/history/${target}`)).body as { change: { text: string } };
    assert.ok(entry.change.text.includes('"elsewhere"') && !entry.change.text.includes("$6.00"));
    await page.getByRole("button", { name: `Restore the version of change ${target}` }).click();
    await page.locator("[data-history-status]").getByText(`Restored the version of change ${target}`).waitFor();
    assert.equal(file(), entry.change.text);
    assert.notEqual(file(), beforeRestore);
    assert.equal(h.gateway.config().quotas["bob-budget"]?.capacity, 5_000_000_000);
    const newest = ((await api("GET", "/api/config/history")).body.changes as { id: number; principal: string; source: string; diff: string }[])[0]!;
    assert.ok(newest.id > ids[0]!, "the restore is a new change");
    assert.deepEqual([newest.principal, newest.source], ["admin@example.com", "api"]);
    assert.match(newest.diff, /^-\s+"capacity": "\$6\.00",$/m);
    await page.close();
  });

  it("validates the draft as the admin edits: problems beside the section and in the list; the raw text drives the forms", async () => {
    const page = await openEditor();
    await page.getByLabel("capacity of zero").fill("10");
    await page.getByLabel("capacity of zero").press("Enter");
    await page.locator('[data-validation="invalid"]').waitFor();
    const beside = page.locator('[data-problems-for="quotas"]');
    assert.match((await beside.textContent()) ?? "", /quotas\.zero\.capacity: expected a dollar amount such as "\$10\.00", got "10"/);
    assert.match((await page.getByRole("list", { name: "Problems in the draft" }).textContent()) ?? "", /quotas\.zero\.capacity/);
    assert.equal(await page.locator('[data-problems-for="grants"] li').count(), 0, "problems stay with their section");
    // A grant naming a bucket no quota defines is a problem of the grants.
    await page.getByLabel("capacity of zero").fill("$0.00");
    await page.getByLabel("capacity of zero").press("Enter");
    await page.locator('[data-grant="3"]').getByLabel("quotas (bucket names)").fill("nope");
    await page.locator('[data-grant="3"]').getByLabel("quotas (bucket names)").press("Enter");
    await page.locator('[data-problems-for="grants"] li').first().waitFor();
    assert.match((await page.locator('[data-problems-for="grants"]').textContent()) ?? "", /quotas references undefined quota "nope"/);
    assert.equal(await page.locator('[data-problems-for="quotas"] li').count(), 0);
    // The raw view is the same draft: a quota typed there appears as a form row.
    await page.locator("details.raw summary").click();
    const raw = page.locator("[data-raw]");
    const text = await raw.inputValue();
    await raw.fill(text.replace('"quotas": {', '"quotas": {\n    "typed-raw": { "capacity": "$2.00", "rate": "$2.00/day" },'));
    assert.equal(await page.getByLabel("capacity of typed-raw").inputValue(), "$2.00");
    // Removing a row removes its entry from the text.
    await page.getByRole("button", { name: "Remove elsewhere" }).click();
    assert.equal(await page.getByLabel("capacity of elsewhere").count(), 0);
    assert.ok(!(await raw.inputValue()).includes('"elsewhere"'));
    await page.getByRole("button", { name: "Discard my edits" }).click();
    await page.locator('[data-validation="valid"]').waitFor();
    assert.equal(await page.getByLabel("capacity of typed-raw").count(), 0);
    assert.equal(await raw.inputValue(), file());
    await page.close();
  });

  it("refuses a literal provider key in the form: it never reaches the file text", async () => {
    const page = await openEditor();
    const key = page.getByLabel("API key of anthropic");
    assert.equal(await key.inputValue(), "${KEYLESS_TEST_ANTHROPIC_KEY}");
    await key.fill("sk-ant-api03-literal-key-typed-by-mistake");
    await key.press("Enter");
    await page.getByText("enter an ${ENV} reference").first().waitFor();
    assert.equal(await key.inputValue(), "");
    assert.equal(await key.getAttribute("aria-invalid"), "true");
    assert.ok(!(await page.locator("[data-raw]").inputValue()).includes("sk-ant-api03"), "the draft text never held the key");
    assert.equal(await page.getByRole("button", { name: "Save", exact: true }).isDisabled(), true, "nothing to save");
    await page.close();
  });

  it("shows a user their own grants and buckets only, and keeps the editor and its API from them", async () => {
    const page = await bob.newPage();
    await page.goto(`${h.gateway.url}/ui/access`);
    const text = (await page.locator("main").textContent()) ?? "";
    assert.match(text, /Role: user/);
    assert.equal(await page.locator("tr[data-bucket]").evaluateAll((trs) => trs.map((t) => t.getAttribute("data-bucket"))).then((b) => b.join(",")), "bob-budget");
    // The level is the store's: bob's admitted request was charged to it (the bucket never refills).
    const quotas = (await api("GET", "/api/quotas", undefined, BOB)).body as { buckets: { bucket: string; balance: string; balance_nanos: number }[] };
    const bucket = quotas.buckets.find((b) => b.bucket === "bob-budget")!;
    assert.ok(bucket.balance_nanos < 5_000_000_000, JSON.stringify(bucket));
    assert.equal(await page.locator('tr[data-bucket="bob-budget"] td').nth(2).textContent(), bucket.balance);
    for (const other of ["dave@example.com", "admin@example.com", "carol@example.com", "zero", "elsewhere"]) assert.ok(!text.includes(other), `bob sees ${other}`);
    assert.equal(await page.locator("header").getByRole("link", { name: "Policy" }).count(), 0);
    if (process.env.KEYLESS_SCREENSHOTS) await page.screenshot({ path: "docs/screenshots/access.png" });
    assert.deepEqual(await seriousViolations(page), []);

    const denied = await page.goto(`${h.gateway.url}/ui/policy`);
    assert.equal(denied?.status(), 403);
    assert.match((await page.locator("main").textContent()) ?? "", /policy editor is for admins/);
    assert.equal(await page.locator("[data-policy-editor]").count(), 0);
    for (const path of ["/api/config", "/api/config/history", "/api/config/history/1", "/api/policy/explain?principal=bob@example.com&model=claude-sonnet-4-6"]) {
      assert.equal((await api("GET", path, undefined, BOB)).status, 403, path);
    }
    await page.close();
  });

  it("has no serious accessibility violations with every panel open, at 1280 px and on a phone", async () => {
    const page = await openEditor();
    const errors = consoleErrors(page);
    await page.getByLabel("capacity of bob-budget").fill("$7.00");
    await page.getByLabel("capacity of bob-budget").press("Tab");
    await page.getByRole("button", { name: "Show changes" }).click();
    await page.locator("[data-diff] pre.diff").waitFor();
    await page.locator("details.raw summary").click();
    await page.locator("table.history details summary").first().click();
    const panel = page.locator(".policy-explain");
    await panel.getByLabel("principal (login or tag:a,tag:b)").fill("bob@example.com");
    await panel.getByLabel("model").fill("claude-sonnet-4-6");
    await panel.getByRole("button", { name: "Explain" }).click();
    await panel.locator("[data-explanation]").waitFor();
    assert.deepEqual(await seriousViolations(page), [], "1280 px");
    // KEYLESS_SCREENSHOTS=1 refreshes the README's picture of the editor (the top of the page, the diff beside it).
    if (process.env.KEYLESS_SCREENSHOTS) {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: "docs/screenshots/policy.png" });
    }
    await page.setViewportSize({ width: 390, height: 844 });
    assert.deepEqual(await seriousViolations(page), [], "390 px");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px on a phone`);
    assert.deepEqual(errors, []);
    await page.close();
  });
  it("says so when a raced edit cannot be re-applied, and can load the other version instead", async () => {
    const page = await openEditor();
    const read = (await api("GET", "/api/config")).body as { config: string; hash: string };
    const theirs = applyEdits(read.config, modify(read.config, ["quotas", "bob-budget", "capacity"], "$8.00", { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
    assert.equal((await api("PUT", "/api/config", { config: theirs, hash: read.hash })).status, 200);
    // The same line, edited differently here.
    await page.getByLabel("capacity of bob-budget").fill("$9.00");
    await page.getByLabel("capacity of bob-budget").press("Enter");
    await page.locator('[data-validation="valid"]').waitFor();
    await page.getByRole("button", { name: "Save", exact: true }).click();
    const conflict = page.locator("[data-conflict]");
    await conflict.getByRole("button", { name: "Load their version and re-apply my edits" }).click();
    await page.locator("[data-save-result]").getByText("could not be re-applied").waitFor();
    assert.equal(await page.getByLabel("capacity of bob-budget").inputValue(), "$9.00", "the admin's draft is kept");
    assert.equal(file(), theirs);
    await conflict.getByRole("button", { name: "Load their version, dropping my edits" }).click();
    assert.equal(await page.getByLabel("capacity of bob-budget").inputValue(), "$8.00");
    assert.equal(await page.locator("[data-summary]").textContent(), "No unsaved changes.");
    assert.equal(await page.locator("[data-raw]").inputValue(), theirs);
    await page.close();
  });
});
