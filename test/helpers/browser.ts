// Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core, kept off the network by its flags.
// Identity comes from the network, so each person in a test is a browser context whose connections leave from their own
// 127.0.0.x address (a distinct tailnet peer for the harness's fake tailscaled): every context goes through a small
// forward proxy that binds that source address. Chromium never bypasses the proxy for loopback (`<-loopback>`).
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
const OFFLINE_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A forward HTTP proxy whose upstream connections come from `localAddress` (loopback targets only). */
async function sourceProxy(localAddress: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("absolute URL expected");
      return;
    }
    if (!/^127\.\d+\.\d+\.\d+$|^localhost$/.test(target.hostname)) {
      res.writeHead(403).end("this test proxy reaches loopback only");
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method: req.method, headers: req.headers, localAddress },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.setTimeout(30_000, () => upstream.destroy(new Error("upstream timed out")));
    upstream.on("error", (err) => (res.headersSent ? res.destroy(err) : res.writeHead(502).end(err.message)));
    req.pipe(upstream);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined),
  };
}

export interface TestBrowser {
  /** A fresh browser context (no cookies, no cache) whose requests come from `localAddress`. */
  as(localAddress: string): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  // "per-context" lets every context name its own proxy.
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: OFFLINE_FLAGS, proxy: { server: "per-context" }, timeout: 60_000 });
  const proxies: { close(): Promise<void> }[] = [];
  return {
    async as(localAddress) {
      const proxy = await sourceProxy(localAddress);
      proxies.push(proxy);
      const context = await browser.newContext({ proxy: { server: proxy.url, bypass: "<-loopback>" }, viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(15_000);
      context.setDefaultNavigationTimeout(20_000);
      return context;
    },
    async close() {
      await browser.close();
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[] }[];
}

/**
 * axe-core's serious and critical violations on the page as it is now. The script is evaluated through the DevTools
 * protocol, which the page's CSP does not govern (a <script> tag would be refused, as it should be).
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run()).violations;
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Every message the page logged as an error or a CSP refusal, to assert a page ran cleanly. */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}
