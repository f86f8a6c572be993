// Runs one step of the bundled Action (test/action/runner.ts) from inside a kernel-TUN node's network namespace,
// where the runner's traffic goes over the tailnet as on a real runner: `nsenter --net=… node --import tsx
// action-step.ts <main|post>` with {job, options} as JSON on stdin; prints {result, job} as JSON.
import { readFileSync } from "node:fs";
import { type Job, type StepOptions, runStep } from "../action/runner.js";

const entry = process.argv[2];
if (entry !== "main" && entry !== "post") throw new Error("usage: action-step.ts main|post");
const { job, options } = JSON.parse(readFileSync(0, "utf8")) as { job: Job; options: StepOptions };
const result = await runStep(entry, job, options);
process.stdout.write(JSON.stringify({ result, job }));
