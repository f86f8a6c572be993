// Runs the bundled Action the way the GitHub runner does: `node dist/<entry>.js` with INPUT_* variables, file commands
// (GITHUB_ENV, GITHUB_OUTPUT, GITHUB_STATE, GITHUB_PATH, GITHUB_STEP_SUMMARY), the event payload, and state fed back to
// the post step as STATE_* variables.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bundleAction } from "../../scripts/bundle.js";

let bundled: Promise<string> | undefined;

/** Bundles action/ once per test process with the same settings as `npm run bundle`, into a temporary dist/. */
export function bundledDist(): Promise<string> {
  bundled ??= (async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "keyless-dist-")), "dist");
    await bundleAction(dir);
    return dir;
  })();
  return bundled;
}

export interface Job {
  /** Scratch root of this job: runner temp, home, file-command files. */
  readonly dir: string;
  readonly home: string;
  readonly runnerTemp: string;
  readonly toolCache: string;
  readonly files: { env: string; output: string; state: string; path: string; summary: string; event: string };
  /** State saved by the steps so far, handed to post as STATE_* variables. */
  lastState: Record<string, string>;
}

export function newJob(): Job {
  const dir = mkdtempSync(join(tmpdir(), "keyless-job-"));
  const sub = (name: string) => {
    const p = join(dir, name);
    mkdirSync(p, { recursive: true });
    return p;
  };
  const files = {
    env: join(dir, "github_env"),
    output: join(dir, "github_output"),
    state: join(dir, "github_state"),
    path: join(dir, "github_path"),
    summary: join(dir, "step_summary"),
    event: join(dir, "event.json"),
  };
  return { dir, home: sub("home"), runnerTemp: sub("runner_temp"), toolCache: sub("tool_cache"), files, lastState: {} };
}

export interface StepResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Everything a user would see in the log (both streams), minus the ::add-mask:: commands the runner consumes. */
  readonly log: string;
  /** Values passed to ::add-mask:: (what the runner masks from then on). */
  readonly masked: string[];
  readonly exported: Record<string, string>;
  readonly outputs: Record<string, string>;
  readonly state: Record<string, string>;
  readonly paths: string[];
  readonly summary: string;
  readonly errors: string[];
  readonly warnings: string[];
}

export interface StepOptions {
  readonly inputs?: Record<string, string>;
  /** Runner and workflow variables (GITHUB_REPOSITORY, ACTIONS_ID_TOKEN_REQUEST_URL, …). */
  readonly env?: Record<string, string | undefined>;
  readonly event?: { name: string; payload: unknown };
  /** Directories put first on PATH (stand-in tools). */
  readonly path?: readonly string[];
  readonly timeoutMs?: number;
}

/** Runs one entry point of the bundle (main, post) as a step of `job`. Post gets main's state as STATE_* variables. */
export async function runStep(entry: "main" | "post", job: Job, o: StepOptions = {}): Promise<StepResult> {
  const dist = await bundledDist();
  // Each step gets fresh per-step files, as the runner does; GITHUB_ENV accumulates into the job's environment.
  for (const f of [job.files.output, job.files.state, job.files.path, job.files.summary]) writeFileSync(f, "");
  writeFileSync(job.files.env, "");
  writeFileSync(job.files.event, JSON.stringify(o.event?.payload ?? {}));
  const env: Record<string, string> = {
    PATH: [...(o.path ?? []), dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: job.home,
    RUNNER_TEMP: job.runnerTemp,
    RUNNER_TOOL_CACHE: job.toolCache,
    RUNNER_OS: "Linux",
    GITHUB_ACTIONS: "true",
    GITHUB_ENV: job.files.env,
    GITHUB_OUTPUT: job.files.output,
    GITHUB_STATE: job.files.state,
    GITHUB_PATH: job.files.path,
    GITHUB_STEP_SUMMARY: job.files.summary,
    GITHUB_EVENT_PATH: job.files.event,
    GITHUB_EVENT_NAME: o.event?.name ?? "push",
    GITHUB_REPOSITORY: "acme/api",
    GITHUB_REPOSITORY_OWNER: "acme",
    GITHUB_RUN_ID: "9876543210",
    GITHUB_RUN_ATTEMPT: "1",
    GITHUB_JOB: "review",
    GITHUB_ACTOR: "octocat",
  };
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  for (const [k, v] of Object.entries(o.inputs ?? {})) env[`INPUT_${k.toUpperCase()}`] = v;
  if (entry === "post") for (const [k, v] of Object.entries(job.lastState)) env[`STATE_${k}`] = v;

  const child = spawn(process.execPath, [join(dist, `${entry}.js`)], { env, cwd: job.dir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 60_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);

  const lines = `${stdout}\n${stderr}`.split("\n");
  const masked = lines.filter((l) => l.startsWith("::add-mask::")).map((l) => l.slice("::add-mask::".length));
  const log = lines.filter((l) => !l.startsWith("::add-mask::")).join("\n");
  const state = parseFileCommand(job.files.state);
  job.lastState = { ...job.lastState, ...state };
  return {
    code,
    stdout,
    stderr,
    log,
    masked,
    exported: parseFileCommand(job.files.env),
    outputs: parseFileCommand(job.files.output),
    state,
    paths: readFileSync(job.files.path, "utf8").split("\n").filter(Boolean),
    summary: existsSync(job.files.summary) ? readFileSync(job.files.summary, "utf8") : "",
    errors: lines.filter((l) => l.startsWith("::error")).map((l) => l.replace(/^::error[^:]*::/, "")),
    warnings: lines.filter((l) => l.startsWith("::warning")).map((l) => l.replace(/^::warning[^:]*::/, "")),
  };
}

/** Parses the `name<<delimiter` … `delimiter` format @actions/core writes to file-command files. */
export function parseFileCommand(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  const lines = readFileSync(path, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join("\n");
  }
  return out;
}

/** Unescapes the `%0A`-style encoding of workflow-command messages. */
export function commandText(s: string): string {
  return s.replace(/%0D/g, "\r").replace(/%0A/g, "\n").replace(/%25/g, "%");
}

/** Waits up to 3 s for a process to be gone, or a zombie (orphans of a finished step wait for PID 1 to reap them). */
export async function exited(pid: number): Promise<boolean> {
  for (let i = 0; i < 60; i++) {
    let state = "";
    try {
      state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
    } catch {
      return true;
    }
    if (state === "Z") return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
