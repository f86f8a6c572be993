// Entry point of dist/post.js. Never fails the job: cleanup problems are warnings.
import * as core from "@actions/core";
import { describeError } from "./errors.js";
import { runPost } from "./post.js";
import { exec, writeSummary } from "./runtime.js";
import { readState } from "./state.js";

try {
  await runPost(readState((key) => core.getState(key)), { core, exec, fetch: globalThis.fetch, writeSummary });
} catch (err) {
  core.warning(`keyless cleanup: ${describeError(err)}`);
}
