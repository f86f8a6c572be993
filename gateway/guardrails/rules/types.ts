// The vocabulary of guardrail rules (categories, severities, actions) and what a matching rule reports.

export const CATEGORIES = [
  "destructive_fs",
  "git_history_loss",
  "download_exec",
  "reverse_shell",
  "credential_access",
  "exfiltration",
  "privilege_persistence",
  "infra_destruction",
  "sandbox_tampering",
  "obfuscation",
] as const;
export type Category = (typeof CATEGORIES)[number];
/** Tool-call rules' categories, and "secrets" for credentials in a call's arguments (secrets/rules.ts). */
export type FindingCategory = Category | "secrets";

export const SEVERITIES = ["low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export const ACTIONS = ["log", "flag", "block"] as const;
export type Action = (typeof ACTIONS)[number];

export interface Finding {
  readonly ruleId: string;
  readonly category: FindingCategory;
  readonly severity: Severity;
  readonly action: Action;
  readonly message: string;
  /** The simple command (or path, MCP call, SQL) that matched. */
  readonly command: string;
  readonly callId?: string;
}
