// What the runner tells a JavaScript action about the job, read once from its environment and event payload.
import { readFileSync } from "node:fs";
import { z } from "zod";

const Sha = z.string().regex(/^[0-9a-f]{40}$/);

/** The few event-payload fields the Action uses; everything else is ignored. */
const Payload = z.looseObject({
  pull_request: z.looseObject({ number: z.number().int().positive(), head: z.looseObject({ sha: z.string(), repo: z.looseObject({ full_name: z.string() }).nullish() }).optional() }).optional(),
  issue: z.looseObject({ number: z.number().int().positive(), pull_request: z.unknown().optional() }).optional(),
  workflow_run: z.looseObject({ head_sha: z.string(), pull_requests: z.array(z.looseObject({ number: z.number().int().positive() })).default([]) }).optional(),
});
type Payload = z.infer<typeof Payload>;

export interface RunContext {
  readonly repository: string;
  readonly runId: string;
  readonly runAttempt: string;
  readonly job: string;
  readonly actor: string;
  readonly eventName: string;
  readonly payload: Payload;
  /** Scratch directory that lives as long as the job. */
  readonly runnerTemp: string;
  readonly home: string;
  readonly platform: NodeJS.Platform;
  readonly arch: string;
  /** True when the runner handed this job the means to mint OIDC tokens (`permissions: id-token: write`). */
  readonly oidcAvailable: boolean;
  readonly isRoot: boolean;
  /** Variables of the job that the agent configuration respects rather than overrides. */
  readonly presetEnv: Readonly<Partial<Record<PresetVar, string>>>;
}

export const PRESET_VARS = ["AWS_REGION", "CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID", "CODEX_HOME"] as const;
export type PresetVar = (typeof PRESET_VARS)[number];

export function readContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const eventPath = env.GITHUB_EVENT_PATH;
  return {
    repository: env.GITHUB_REPOSITORY ?? "",
    runId: env.GITHUB_RUN_ID ?? "0",
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? "1",
    job: env.GITHUB_JOB ?? "",
    actor: env.GITHUB_ACTOR ?? "",
    eventName: env.GITHUB_EVENT_NAME ?? "",
    payload: eventPath ? readPayload(eventPath) : {},
    runnerTemp: env.RUNNER_TEMP || env.TMPDIR || "/tmp",
    home: env.HOME ?? env.USERPROFILE ?? "",
    platform: process.platform,
    arch: process.arch,
    oidcAvailable: Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN),
    isRoot: typeof process.getuid === "function" && process.getuid() === 0,
    presetEnv: Object.fromEntries(PRESET_VARS.filter((v) => env[v]).map((v) => [v, env[v]])),
  };
}

function readPayload(path: string): Payload {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return {};
  }
  const parsed = Payload.safeParse(raw);
  return parsed.success ? parsed.data : {};
}

/**
 * PR number and head commit to send with the session. For `pull_request` the token's signed `ref` (refs/pull/N/merge)
 * names the PR and its `sha` is the synthetic merge commit, so only the head commit (where the check run belongs) is
 * sent. Other events carry the PR only in their unsigned payload; the gateway verifies it with the GitHub API.
 */
export function pullRequestOf(ctx: Pick<RunContext, "eventName" | "payload">): { pr_number?: number; head_sha?: string } {
  const { pull_request: pr, issue, workflow_run: wr } = ctx.payload;
  if (ctx.eventName === "pull_request") {
    const sha = pr?.head?.sha;
    return sha && Sha.safeParse(sha).success ? { head_sha: sha } : {};
  }
  if (pr) return withSha(pr.number, pr.head?.sha);
  if (issue?.pull_request) return { pr_number: issue.number };
  const first = wr?.pull_requests[0];
  if (wr && first) return withSha(first.number, wr.head_sha);
  return {};
}

function withSha(pr_number: number, sha: string | undefined): { pr_number: number; head_sha?: string } {
  return Sha.safeParse(sha).success ? { pr_number, head_sha: sha } : { pr_number };
}

/** The fork a pull request came from, when it is not this repository (such runs get no OIDC token). */
export function forkOf(ctx: Pick<RunContext, "payload" | "repository">): string | null {
  const head = ctx.payload.pull_request?.head?.repo?.full_name;
  return head && head !== ctx.repository ? head : null;
}
