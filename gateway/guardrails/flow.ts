// Across tool calls: within one CI session (or, outside CI, one principal's recent requests) what an earlier call did
// is remembered, so a later call completes a pattern no single command shows: a credential read and then a network
// egress, a download and then running what was downloaded, an edit of the agent's configuration or of CI workflows and
// then a push. The finding lands on the later call and names both. State is in memory, bounded, per gateway process.
import { normalizePath } from "./shell/index.js";
import type { SimpleCommand } from "./shell/types.js";
import type { Action, Category, Finding, Severity } from "./rules/types.js";
import type { ClassifiedToolCall } from "./types.js";

interface FlowRule {
  readonly id: string;
  readonly category: Category;
  readonly severity: Severity;
  /** The catalog action a grant may override (by id or category), as for catalog rules. */
  readonly action: Action;
  readonly message: string;
}

export const FLOW_RULES = {
  secretThenEgress: {
    id: "flow.secret-then-egress",
    category: "exfiltration",
    severity: "high",
    action: "flag",
    message: "an earlier call read a credential; this call sends data over the network",
  },
  downloadThenExec: {
    id: "flow.download-then-exec",
    category: "download_exec",
    severity: "high",
    action: "flag",
    message: "an earlier call downloaded this file; this call runs it",
  },
  configEditThenPush: {
    id: "flow.config-edit-then-push",
    category: "sandbox_tampering",
    severity: "high",
    action: "flag",
    message: "an earlier call edited the agent's configuration or a CI workflow; this call pushes",
  },
} as const satisfies Record<string, FlowRule>;

/** What one earlier call did that a later call can complete. */
interface CallEvent {
  readonly requestId: string;
  readonly callId: string;
  readonly label: string;
  readonly ts: number;
  readsSecret: boolean;
  readonly downloads: readonly string[];
  readonly editsConfig: boolean;
}

/** What a call does, as far as flows care. */
export interface CallFacts {
  readonly readsSecret: boolean;
  readonly egress: boolean;
  readonly downloads: readonly string[];
  readonly runs: readonly string[];
  readonly editsConfig: boolean;
  readonly pushes: boolean;
}

const NETWORK = new Set(["curl", "wget", "nc", "ncat", "netcat", "socat", "telnet", "ssh", "scp", "sftp", "rsync", "ftp", "http", "https", "xh", "aria2c", "openssl", "dig", "nslookup"]);
const LOOPBACK = /^(https?:\/\/)?(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?(\/|$)/;
const FETCH_TOOLS = /^(WebFetch|web_fetch|fetch|http_request)$/i;
const CONFIG_RULES = new Set(["sbx.write-agent-config", "sbx.write-workflow", "sbx.git-hooks-dir", "sbx.git-hooks-path"]);
const SHELL_OR_INTERPRETER = /^(sh|bash|zsh|dash|ksh|python[\d.]*|node|perl|ruby|php|source|\.)$/;

/** Events kept per session, sessions kept, and how long a principal's (non-CI) history counts. */
const MAX_EVENTS = 256;
const MAX_SESSIONS = 10_000;
const PRINCIPAL_WINDOW_MS = 60 * 60 * 1000;

function egressOf(c: SimpleCommand): boolean {
  if (!NETWORK.has(c.name)) return false;
  const targets = c.positionals.filter((a) => /[./:@]/.test(a));
  return targets.length === 0 || targets.some((a) => !LOOPBACK.test(a));
}

/** Facts of one classified call from its findings and the simple commands its analysis found. */
export function callFacts(c: ClassifiedToolCall, findings: readonly Finding[], commands: readonly SimpleCommand[]): CallFacts {
  const downloads = commands.filter((x) => x.name === "curl" || x.name === "wget").flatMap((x) => x.writes);
  const runs = commands.flatMap((x) => {
    const target = SHELL_OR_INTERPRETER.test(x.name) ? x.positionals[0] : x.path.includes("/") ? x.path : undefined;
    return target === undefined ? [] : [normalizePath(target)];
  });
  return {
    readsSecret: findings.some((f) => f.category === "credential_access" || f.category === "secrets"),
    egress: commands.some(egressOf) || FETCH_TOOLS.test(c.name) || findings.some((f) => f.category === "exfiltration" && !f.ruleId.startsWith("flow.")),
    downloads,
    runs,
    editsConfig: findings.some((f) => CONFIG_RULES.has(f.ruleId)),
    pushes: commands.some((x) => x.name === "git" && x.positionals[0] === "push"),
  };
}

export interface FlowCall {
  readonly requestId: string;
  readonly callId: string;
  readonly label: string;
  readonly ts: number;
}

const describe = (e: CallEvent) => `${e.label} (request ${e.requestId}, call ${e.callId})`;

export class SessionFlows {
  private readonly sessions = new Map<string, CallEvent[]>();

  private events(key: string, now: number): CallEvent[] {
    const list = this.sessions.get(key) ?? [];
    // Outside CI a principal's calls are one stream: only the recent ones count.
    const fresh = key.startsWith("principal:") ? list.filter((e) => now - e.ts <= PRINCIPAL_WINDOW_MS) : list;
    this.sessions.delete(key);
    this.sessions.set(key, fresh);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value ?? "");
    return fresh;
  }

  /** Findings for `call` that complete a pattern begun by an earlier call of the same session. */
  check(key: string, call: FlowCall, facts: CallFacts): Finding[] {
    const earlier = this.events(key, call.ts);
    const out: Finding[] = [];
    const add = (rule: FlowRule, first: CallEvent) =>
      out.push({
        ruleId: rule.id,
        category: rule.category,
        severity: rule.severity,
        action: rule.action,
        message: `${rule.message}: ${describe(first)} then ${call.label} (request ${call.requestId}, call ${call.callId})`,
        command: `${first.label} → ${call.label}`,
        callId: call.callId,
      });
    const last = <T>(pick: (e: CallEvent) => T | false) => [...earlier].reverse().find((e) => pick(e));
    const secret = facts.egress ? last((e) => e.readsSecret) : undefined;
    if (secret) add(FLOW_RULES.secretThenEgress, secret);
    const download = last((e) => e.downloads.some((d) => facts.runs.includes(d)));
    if (download) add(FLOW_RULES.downloadThenExec, download);
    const edit = facts.pushes ? last((e) => e.editsConfig) : undefined;
    if (edit) add(FLOW_RULES.configEditThenPush, edit);
    return out;
  }

  /** Remembers a call that ran (or will: it was not blocked). */
  record(key: string, call: FlowCall, facts: CallFacts): void {
    if (!facts.readsSecret && facts.downloads.length === 0 && !facts.editsConfig) return;
    const list = this.events(key, call.ts);
    list.push({ ...call, readsSecret: facts.readsSecret, downloads: facts.downloads, editsConfig: facts.editsConfig });
    if (list.length > MAX_EVENTS) list.shift();
  }

  /** A later request reported this call's result, and the result carried a secret: the call read one. */
  secretInResult(key: string, call: FlowCall): void {
    const list = this.events(key, call.ts);
    const known = list.find((e) => e.callId === call.callId);
    if (known) known.readsSecret = true;
    else {
      list.push({ ...call, readsSecret: true, downloads: [], editsConfig: false });
      if (list.length > MAX_EVENTS) list.shift();
    }
  }
}
