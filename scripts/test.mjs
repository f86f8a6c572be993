#!/usr/bin/env node
// Runs every test file under test/ with node's test runner (through tsx), two files at a time. No test can hang:
// each test fails after KEYLESS_TEST_TIMEOUT_MS (default 120 s), and the whole run is stopped after 20 minutes.
// The real-tailnet tests need tailscaled, tailscale and tailnet-lab built from the pinned Go module first: a warm
// build takes seconds, a cold one minutes, so it runs here, before any test's clock starts.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, sep } from "node:path";

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return ["fakes", "helpers", "fixtures"].includes(name) ? [] : find(path);
    return path.endsWith(".test.ts") ? [path] : [];
  });
}

const perTest = Number(process.env.KEYLESS_TEST_TIMEOUT_MS ?? 120_000);
const wholeRun = 20 * 60_000;
const only = process.argv.slice(2);
const files = only.length > 0 ? only : find("test").sort();
if (files.some((f) => f.split(sep).includes("tailnet"))) {
  const build = spawnSync(process.execPath, ["--import", "tsx", join("test", "tailnet", "build.ts")], { stdio: "inherit", timeout: 30 * 60_000 });
  if (build.status !== 0) {
    console.error("test run stopped: the real-tailnet binaries could not be built (see above)");
    process.exit(1);
  }
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${perTest}`, "--test-reporter=spec", ...files],
  { stdio: "inherit", timeout: wholeRun, killSignal: "SIGKILL", env: { ...process.env, NODE_NO_WARNINGS: "1" } },
);
if (result.error) console.error(`test run stopped: ${result.error.message} (limit ${wholeRun / 60_000} minutes)`);
process.exit(result.status ?? 1);
