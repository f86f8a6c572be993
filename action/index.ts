// Entry point of dist/main.js.
import { fileURLToPath } from "node:url";
import * as core from "@actions/core";
import { readContext } from "./context.js";
import { describeError } from "./errors.js";
import { readInputs } from "./inputs.js";
import { runMain } from "./main.js";
import { clock, exec, runnerCore, spawnDetached, toolCache, which } from "./runtime.js";

export async function run(): Promise<void> {
  try {
    const inputs = readInputs((name) => core.getInput(name));
    await runMain(inputs, readContext(), {
      core: runnerCore,
      exec,
      which,
      spawnDetached,
      toolCache,
      fetch: globalThis.fetch,
      clock,
      node: process.execPath,
      proxyScript: fileURLToPath(new URL("./proxy.js", import.meta.url)),
    });
  } catch (err) {
    core.setFailed(describeError(err));
  }
}

await run();
