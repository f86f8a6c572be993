// The hooks module: pre_request in the request path, entire_request and tool_call through the durable outbox
// (written in the request's own transaction, delivered in the background).
import type { GatewayModule } from "../proxy/feature.js";
import { requireRole } from "../http/require-role.js";
import { ASYNC_HOOK_EVENTS, type HookEvent, type HooksConfig } from "../config/hooks.js";
import { type Exchange, type ExchangePlugin, type Outcome, stateSlot } from "../proxy/exchange.js";
import type { Store } from "../store/db.js";
import { Outbox, type OutboxKind, type OutboxMessage } from "../store/outbox.js";
import type { ToolCallRecord } from "../store/tool-calls.js";
import { type PayloadContext, type QuotaView, aperturePayload } from "./aperture-payload.js";
import { HookDeliverer } from "./deliver.js";
import { asyncPayload } from "./payload.js";
import { runPreRequest } from "./pre-request.js";
import { hooksFor } from "./select.js";
import { grantCapabilities } from "../access/grants.js";

export interface HooksModuleDeps {
  readonly store: Store;
  /** This replica's name in outbox claims. */
  readonly replica: string;
  readonly hooks: () => HooksConfig;
  readonly fetch?: typeof fetch;
  readonly userAgent: string;
  /** The analysed tool calls of an exchange (from the tools module). */
  readonly toolCalls: (ex: Exchange, outcome: Outcome) => readonly ToolCallRecord[];
  readonly onError: (err: unknown, context: string) => void;
  /** Outbox scan interval and claim lease; tests shorten them. */
  readonly pollMs?: number;
  readonly leaseMs?: number;
  /** The tailnet's MagicDNS name for hook metadata (tailscaled's status; null off a tailnet). */
  readonly tailnetName?: () => Promise<string | null>;
  /** The buckets a request is charged to, for Aperture's `send: ["quotas"]`. */
  readonly quotas?: (ex: Exchange) => Promise<Readonly<Record<string, QuotaView>>>;
}

export interface HooksModule extends GatewayModule {
  readonly outbox: Outbox;
  /** Delivers what is due now rather than at the next scan (after an enqueue outside a request's row). */
  kick(): void;
  start(): void;
  stop(): Promise<void>;
}

const OUTBOX_KINDS = ["webhook", "check_run", "settlement"] as const satisfies readonly OutboxKind[];

/**
 * Outbox items given up on, of every kind (webhook messages past give_up_after or whose hook was removed, check-run
 * writes and quota settlements that failed for days), kept until retention purges them; `pending`: webhook messages.
 */
async function deadLetters(outbox: Outbox, limitText: string | undefined) {
  const limit = Number(limitText ?? 100);
  const [webhook, check_run, settlement] = await Promise.all(OUTBOX_KINDS.map((kind) => outbox.pending(kind)));
  return {
    dead_letters: await outbox.deadLetters(Number.isFinite(limit) ? limit : 100),
    pending: webhook,
    pending_by_kind: { webhook, check_run, settlement },
  };
}

/** The request's buckets as they stood when it arrived, read once for every hook that sends `quotas`. */
const QUOTA_VIEWS = stateSlot<Readonly<Record<string, QuotaView>>>("hooks.quotas");

function sendsQuotas(ex: Exchange, hooks: HooksConfig): boolean {
  const events: readonly HookEvent[] = ["pre_request", ...ASYNC_HOOK_EVENTS];
  return events.some((event) => hooksFor(ex.entitlement, hooks, event).some(({ send }) => send?.has("quotas")));
}

export function createHooksModule(deps: HooksModuleDeps): HooksModule {
  const outbox = new Outbox(deps.store, deps.replica);
  const fetchImpl = deps.fetch ?? fetch;
  const deliverer = new HookDeliverer({ outbox, hooks: deps.hooks, fetch: fetchImpl, userAgent: deps.userAgent, onError: deps.onError, pollMs: deps.pollMs, leaseMs: deps.leaseMs });

  const toolCallsOf = (ex: Exchange, outcome: Outcome): readonly ToolCallRecord[] => {
    try {
      return deps.toolCalls(ex, outcome);
    } catch (err) {
      // Events still go out, without the analysis.
      deps.onError(err, `tool calls for hook events of ${ex.id}`);
      return [];
    }
  };

  // Kept fresh off the request path (tailscaled's answer is cached there too); payloads are built synchronously, so
  // what they report of the budget store (either engine answers asynchronously) is read in the before-step.
  let tailnetName: string | null = null;
  const refreshTailnetName = () =>
    void deps.tailnetName?.().then(
      (name) => (tailnetName = name),
      () => undefined,
    );
  const context = (ex: Exchange): PayloadContext => ({ tailnetName, grantCapabilities: grantCapabilities(ex.caller.config), quotas: (e) => e.state.get(QUOTA_VIEWS) ?? {} });

  const plugin: ExchangePlugin = {
    name: "hooks",
    async before(ex) {
      refreshTailnetName();
      if (deps.quotas && sendsQuotas(ex, ex.caller.config.hooks)) ex.state.set(QUOTA_VIEWS, await deps.quotas(ex));
      return runPreRequest(ex, ex.caller.config.hooks, { fetch: fetchImpl, userAgent: deps.userAgent, onError: deps.onError, context: context(ex) });
    },
    after(ex, outcome) {
      const { hooks } = ex.caller.config;
      const messages: OutboxMessage[] = [];
      for (const event of ASYNC_HOOK_EVENTS) {
        if (event === "tool_call" && outcome.toolCalls.length === 0) continue;
        const selected = hooksFor(ex.entitlement, hooks, event);
        if (selected.length === 0) continue;
        const calls = toolCallsOf(ex, outcome);
        let full: string | undefined;
        for (const { name, hook, send } of selected) {
          if (!hook) {
            deps.onError(new Error(`hook "${name}" named in a grant is not defined`), `${event} event for ${ex.id}`);
            continue;
          }
          // Aperture's selection is per hook; keyless's full payload is one text shared by every hook that takes it.
          const payload = send ? JSON.stringify(aperturePayload(send, ex, outcome, calls, context(ex))) : (full ??= JSON.stringify(asyncPayload(event, ex, outcome, calls, tailnetName)));
          messages.push({ msgId: `msg_${ex.id}_${event}_${name}`, hook: name, event, payload });
        }
      }
      if (messages.length === 0) return;
      return {
        rows: () => ({ kind: "outbox", messages, at: Date.now() }),
        committed: () => deliverer.kick(),
      };
    },
  };

  return {
    name: "hooks",
    plugin,
    outbox,
    kick: () => deliverer.kick(),
    mount(app) {
      app.get("/api/hooks/dead-letters", requireRole("admin"), async (c) => c.json(await deadLetters(outbox, c.req.query("limit"))));
    },
    start: () => {
      refreshTailnetName();
      deliverer.start();
    },
    stop: () => deliverer.stop(),
  };
}
