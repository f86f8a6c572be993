// Secrets in traffic, on the request path: before forwarding, every text the agent sends is scanned; per the caller's
// guardrails a secret is logged, flagged, redacted (replaced by a marker in the forwarded body, so the provider never
// receives it and the agent keeps working) or the request is refused. Whatever the action, nothing stored keeps the
// secret: captures and tool-call rows are masked, and findings hold the rule id and a fingerprint.
import type { GatewayModule } from "../proxy/feature.js";
import type { GuardrailAction } from "../config/grants.js";
import type { ToolCall } from "../formats/types.js";
import { type Denial, type Exchange, type ExchangePlugin, stateSlot } from "../proxy/exchange.js";
import type { Capture, RowExtension } from "../store/requests.js";
import type { SecretFindingRecord } from "../store/secret-findings.js";
import { GuardrailPolicy, strongest } from "./actions.js";
import type { Action, Finding } from "./rules/types.js";
import { type FoundSecret, SecretScanner, WITHHELD, maskBytes, maskValue } from "./secrets/body.js";
import { RULE_PREFIX, type SecretRules, loadSecretRules } from "./secrets/rules.js";
import { type ScanBudget, scanBudget } from "./secrets/scan.js";

/** Reported when the scan ran out of time: some text was not scanned, so what it carries is unknown. */
export const SCAN_INCOMPLETE = `${RULE_PREFIX}scan-incomplete`;

interface Decided extends FoundSecret {
  readonly action: GuardrailAction;
}

interface SecretsState {
  readonly request: readonly Decided[];
  readonly incomplete: GuardrailAction | null;
  /** Secrets in the tool calls the model returned (filled by the tools module). */
  readonly response: Decided[];
  /** The response's tool calls share one scan budget (set at the first call). */
  responseBudget?: ScanBudget;
}

const STATE = stateSlot<SecretsState>("secrets");

/** A tool call is not rewritten (the agent would run the marker): redact counts as flag there. */
const forCall = (a: GuardrailAction): Action => (a === "redact" ? "flag" : a);

/** Every secret this exchange is known to carry, for masking what is stored. */
export function secretsToMask(ex: Exchange): readonly { secret: string; ruleId: string }[] {
  const s = ex.state.get(STATE);
  return s ? [...s.request, ...s.response] : [];
}

/** One row per secret, place and call (the same secret resent in a conversation's history is one row per request). */
function findingRows(state: SecretsState): SecretFindingRecord[] {
  const seen = new Set<string>();
  const rows: SecretFindingRecord[] = [];
  const add = (d: Decided, place: string) => {
    const key = `${d.ruleId}\0${d.fingerprint}\0${place}\0${d.callId ?? ""}`;
    if (seen.has(key)) return;
    seen.add(key);
    rows.push({ ruleId: d.ruleId, fingerprint: d.fingerprint, verified: d.verified ?? null, place, callId: d.callId ?? null, action: d.action });
  };
  for (const d of state.request) add(d, d.place);
  for (const d of state.response) add(d, "response");
  if (state.incomplete) rows.push({ ruleId: SCAN_INCOMPLETE, fingerprint: "-", verified: null, place: "request", callId: null, action: state.incomplete });
  return rows;
}

/** Tool results in this request that carried a secret: the calls that read one. */
export function secretResults(ex: Exchange): { callId: string; ruleId: string }[] {
  const s = ex.state.get(STATE);
  return (s?.request ?? []).flatMap((d) => (d.place === "tool_result" && d.callId !== undefined ? [{ callId: d.callId, ruleId: d.ruleId }] : []));
}

export interface SecretsModule extends GatewayModule {
  /** Findings for the secrets in one tool call the model returned (its arguments), recorded for masking. */
  callFindings(ex: Exchange, call: ToolCall): Finding[];
}

export interface SecretsModuleDeps {
  /** Compiled rules (shared by tests); loaded from the vendored catalogue otherwise. */
  readonly rules?: SecretRules;
}

const describe = (list: readonly Decided[]) =>
  [...new Set(list.map((d) => `${d.ruleId} (fingerprint ${d.fingerprint}, in ${d.place.replace("_", " ")})`))].join(", ");

/** One scanner per fingerprint key (the config may change it); each keeps its own cache. */
type Scanners = (key: string | undefined) => SecretScanner;

const policyOf = (ex: Exchange) => GuardrailPolicy.for(ex.caller.config.guardrails, ex.entitlement);

/** Scans the request body; per the caller's actions refuses it, redacts it in place, or lets it through recorded. */
function checkRequest(ex: Exchange, scannerFor: Scanners): Denial | void {
  const cfg = ex.caller.config.guardrails.secrets;
  if (!cfg.enabled || ex.body === null || ex.body === undefined) return;
  const policy = policyOf(ex);
  const scan = scannerFor(cfg.fingerprint_key).scanBody(ex.body, cfg.scan_ms);
  const decided = scan.found.map((f): Decided => ({ ...f, action: policy.secretActionFor(f.ruleId, cfg) }));
  // Unscanned text cannot be redacted: at least flagged, blocked where the caller's guardrails say so.
  const unknown = scan.incomplete ? policy.secretActionFor(SCAN_INCOMPLETE, cfg) : null;
  const incomplete = unknown === "redact" ? "flag" : unknown;
  ex.state.set(STATE, { request: decided, incomplete, response: [] });
  const strongestAction = strongest([...decided.map((d) => d.action), ...(incomplete ? [incomplete] : [])]);
  if (strongestAction === null || strongestAction === "log") return;
  if (strongestAction === "block") {
    ex.flags.push("secret_blocked");
    const blocked = decided.filter((d) => d.action === "block");
    return {
      kind: "permission",
      category: "guardrail",
      message: `keyless guardrails: the request carries ${blocked.length > 0 ? `a secret: ${describe(blocked)}` : "text that was not fully scanned for secrets"}; it was not forwarded`,
    };
  }
  const redact = decided.filter((d) => d.action === "redact");
  if (redact.length > 0) {
    ex.body = maskValue(ex.body, redact);
    ex.flags.push("secret_redacted");
  }
  if (decided.some((d) => d.action === "flag") || incomplete === "flag") ex.flags.push("secret_flagged");
}

/** Findings for the secrets in one tool call's arguments (the response's calls share one scan budget). */
function checkCall(ex: Exchange, call: ToolCall, scannerFor: Scanners): Finding[] {
  const cfg = ex.caller.config.guardrails.secrets;
  const state = ex.state.get(STATE);
  if (!cfg.enabled || !state) return [];
  const policy = policyOf(ex);
  state.responseBudget ??= scanBudget(cfg.scan_ms);
  const scan = scannerFor(cfg.fingerprint_key).scanBody(call.input, state.responseBudget);
  const unknown: Finding[] = scan.incomplete
    ? [{ ruleId: SCAN_INCOMPLETE, category: "secrets", severity: "medium", action: forCall(policy.secretActionFor(SCAN_INCOMPLETE, cfg)), message: "the call's arguments were not fully scanned for secrets", command: call.name, callId: call.id }]
    : [];
  return [
    ...unknown,
    ...scan.found.map((f): Finding => {
      const action = policy.secretActionFor(f.ruleId, cfg);
      state.response.push({ ...f, place: "tool_call", callId: call.id, action });
      return {
        ruleId: f.ruleId,
        category: "secrets",
        severity: "high",
        action: forCall(action),
        message: `the model asks to use a credential (fingerprint ${f.fingerprint})`,
        command: call.name,
        callId: call.id,
      };
    }),
  ];
}

/** What is stored with the request: the capture masked, the findings as rows. Read when the row is stored. */
function storedWith(ex: Exchange): RowExtension | void {
  const state = ex.state.get(STATE);
  if (!state) return;
  const ctx = { ts: ex.startedAt, principal: ex.identity.principal, sessionId: ex.session?.id ?? null };
  return {
    capture: (c: Capture): Capture => {
      const secrets = secretsToMask(ex);
      return {
        ...c,
        requestBody: c.requestBody && maskBytes(c.requestBody, secrets),
        // A streamed tool call arrives in pieces that may split a secret: such a response is not kept at all.
        responseBody: c.responseBody && (ex.stream && state.response.length > 0 ? WITHHELD : maskBytes(c.responseBody, secrets)),
      };
    },
    rows: () => ({ kind: "secret_findings", ctx, records: findingRows(state) }),
  };
}

export function createSecretsModule(deps: SecretsModuleDeps = {}): SecretsModule {
  const rules = deps.rules ?? loadSecretRules();
  const scanners = new Map<string, SecretScanner>();
  const scannerFor: Scanners = (key) => {
    let s = scanners.get(key ?? "");
    if (!s) {
      s = new SecretScanner(rules, key);
      scanners.set(key ?? "", s);
    }
    return s;
  };
  const plugin: ExchangePlugin = {
    name: "secrets",
    before: (ex) => checkRequest(ex, scannerFor),
    // Its extension is read when the row is stored, after every plugin's after(): the tools module fills in the
    // secrets of the response's tool calls by then.
    after: storedWith,
  };
  return { name: "secrets", plugin, callFindings: (ex, call) => checkCall(ex, call, scannerFor) };
}
