// The web UI in headless Chromium: every page loads its one script and stylesheet under the strict CSP without an
// error, passes axe-core without serious violations, and a browser's state-changing call needs the page's CSRF token.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrowserContext } from "playwright-core";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { type TestBrowser, consoleErrors, openBrowser, seriousViolations } from "../helpers/browser.js";

const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
const ALICE = "127.0.0.8";
const PAGES = ["/ui/", "/ui/requests", "/ui/tool-calls", "/ui/sessions"];

describe("web UI in Chromium", () => {
  let h: Harness;
  let browser: TestBrowser;
  let admin: BrowserContext;
  let alice: BrowserContext;

  before(async () => {
    h = await startHarness({
      configFile: true,
      peers: { [ADMIN]: { login: "admin@example.com" }, [ALICE]: { login: "alice@example.com" } },
      config: () => ({
        grants: [
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "user", models: "**" }] } },
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
        ],
      }),
    });
    browser = await openBrowser();
    admin = await browser.as(ADMIN);
    alice = await browser.as(ALICE);
  });
  after(async () => {
    await browser?.close();
    await h?.close();
  });

  it("identifies each browser by the address its connections come from", async () => {
    for (const [context, who] of [[admin, "admin@example.com · admin"], [alice, "alice@example.com · user"]] as const) {
      const page = await context.newPage();
      await page.goto(`${h.gateway.url}/ui/`);
      assert.equal((await page.locator("header .me").textContent())?.trim(), who);
      await page.close();
    }
  });

  it("loads every page's script and styles under the CSP, without errors or serious accessibility violations", async () => {
    const page = await admin.newPage();
    const errors = consoleErrors(page);
    const assets: { url: string; status: number }[] = [];
    page.on("response", (r) => {
      if (r.url().includes("/ui/assets/")) assets.push({ url: r.url(), status: r.status() });
    });
    for (const path of PAGES) {
      await page.goto(`${h.gateway.url}${path}`);
      await page.waitForLoadState("load");
      // The stylesheet applied: the header is laid out as a flex row (the default would be block).
      assert.equal(await page.locator("header").evaluate((e) => getComputedStyle(e).display), "flex", path);
      assert.deepEqual(await seriousViolations(page), [], `${path}: axe-core`);
    }
    // The check can fail: an image without a text alternative is a critical violation.
    await page.evaluate(() => document.querySelector("main")?.append(Object.assign(document.createElement("img"), { src: "data:," })));
    assert.deepEqual((await seriousViolations(page)).map((v) => v.id), ["image-alt"]);
    assert.deepEqual(errors, [], "no console errors and no CSP refusals");
    assert.ok(assets.some((a) => a.url.endsWith(".js")) && assets.some((a) => a.url.endsWith(".css")), JSON.stringify(assets));
    assert.ok(assets.every((a) => a.status === 200 || a.status === 304), JSON.stringify(assets));
    await page.close();
  });

  it("refuses a browser's write without the page's CSRF token, and passes it with the token", async () => {
    const page = await admin.newPage();
    await page.goto(`${h.gateway.url}/ui/`);
    const status = (withToken: boolean) =>
      page.evaluate(async (send) => {
        const token = document.querySelector<HTMLMetaElement>('meta[name="keyless-csrf"]')?.content ?? "";
        const res = await fetch("/api/config/validate", {
          method: "POST",
          headers: { "content-type": "application/json", ...(send ? { "x-keyless-csrf": token } : {}) },
          body: JSON.stringify({ config: "{}" }),
        });
        return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
      }, withToken);
    const refused = await status(false);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error?.code, "csrf_token_missing");
    const passed = await status(true);
    assert.notEqual(passed.body.error?.code, "csrf_token_missing");
    assert.ok(passed.status === 200 || passed.status === 400 || passed.status === 422, `validate answered ${passed.status}`);
    await page.close();
  });

  it("serves assets with a year's immutable cache and refuses unknown names", async () => {
    const res = await h.fetchFrom(ADMIN)(`${h.gateway.url}/ui/`);
    const html = await res.text();
    const script = /<script src="([^"]+)"/.exec(html)?.[1];
    assert.ok(script);
    const asset = await h.fetchFrom(ADMIN)(`${h.gateway.url}${script}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(asset.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.equal((await h.fetchFrom(ADMIN)(`${h.gateway.url}/ui/assets/app.0000.js`)).status, 404);
  });
});
