// Plain report data for renderer tests (no store involved).
import type { Session } from "../../src/ci-session.js";
import type { ReportData } from "../../src/ci-session.js";

export function session(over: Partial<Session> = {}): Session {
  return {
    id: "ses_1",
    node_id: "nCI123",
    repository: "acme/api",
    repository_id: "812345678",
    owner: "acme",
    owner_id: "4567890",
    pr_number: 42,
    head_sha: "1111111111111111111111111111111111111111",
    sha: "2222222222222222222222222222222222222222",
    run_id: "9876543210",
    run_attempt: "1",
    workflow: "AI review",
    job: "review",
    actor: "octocat",
    event: "pull_request",
    ref: "refs/pull/42/merge",
    started_at: "2026-11-20T10:00:00.000Z",
    finished_at: null,
    finish_reason: null,
    check_run_id: null,
    check_run_url: null,
    ...over,
  };
}

export function report(over: Partial<ReportData> = {}): ReportData {
  return {
    session: session(),
    totals: {
      requests: 5,
      errors: 1,
      denials: 1,
      input_tokens: 12_000,
      cache_read_tokens: 30_000,
      cache_write_tokens: 1_000,
      output_tokens: 2_500,
      cost_nanos: 123_450_000,
      unpriced_requests: 0,
      tool_calls: 4,
    },
    by_model: [
      { provider: "anthropic", model: "claude-opus-4-8", requests: 4, input_tokens: 12_000, cache_read_tokens: 30_000, cache_write_tokens: 1_000, output_tokens: 2_500, cost_nanos: 123_450_000 },
    ],
    problems: [
      { kind: "quota", reason: "bucket repo:acme-api exhausted ($5.00)", count: 1 },
      { kind: "error", reason: "upstream 529 overloaded", count: 1 },
    ],
    tool_calls_by_kind: [
      { kind: "shell", count: 3 },
      { kind: "mcp", count: 1 },
    ],
    commands: [
      { at: "2026-11-20T10:03:00.000Z", command: "rm -rf ~/.ssh", blocked: true },
      { at: "2026-11-20T10:02:00.000Z", command: "grep -n '`foo`' src | head", blocked: false },
      { at: "2026-11-20T10:01:00.000Z", command: "npm test", blocked: false },
    ],
    commands_omitted: 0,
    mcp: [{ server: "github", tool: "get_issue", count: 1 }],
    findings: [
      { at: "2026-11-20T10:03:00.000Z", severity: "high", rule: "fs.delete-home", action: "block", command: "rm -rf ~/.ssh" },
      { at: "2026-11-20T10:02:30.000Z", severity: "low", rule: "net.curl", action: "log", command: "curl https://example.com" },
    ],
    budgets: [{ bucket: "repo:acme-api", spent_nanos: 123_450_000, remaining_nanos: 4_876_550_000 }],
    budget_alerts: [],
    pr: { sessions: 3, requests: 20, input_tokens: 50_000, output_tokens: 9_000, cost_nanos: 1_500_000_000 },
    ...over,
  };
}
