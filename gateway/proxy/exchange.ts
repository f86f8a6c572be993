// The per-request state the proxy and its plugins share, and the plugin contract.
import type { ProviderConfig } from "../config/providers.js";
import type { EventRewriter, FormatCodec, GatewayError, RequestInfo } from "../formats/codec.js";
import type { ResponseSummary, ToolCall, ToolResult } from "../formats/types.js";
import type { Identity } from "../identity/types.js";
import type { Caller, Entitlement } from "../access/caller.js";
import type { ProviderAdapter } from "../providers/types.js";
import type { RowExtension } from "../store/requests.js";
import type { RouteDef } from "./routes.js";

/** A CI session bound to the caller's node (filled in by the CI sessions module). */
export interface SessionRef {
  readonly id: string;
  readonly repository: string;
  readonly repositoryId: string;
  readonly prNumber: number | null;
  readonly workflow: string;
  readonly runId: string;
}

export interface ResolvedProvider {
  readonly name: string;
  readonly config: ProviderConfig;
  readonly adapter: ProviderAdapter;
}

export interface Exchange {
  readonly id: string;
  /** Epoch milliseconds when the request arrived. */
  readonly startedAt: number;
  readonly identity: Identity;
  /** Who asked, under which config; features read the config from here, never from the running gateway. */
  readonly caller: Caller;
  /** What the caller's grants allow for this model: quota lines, guardrail actions, hooks, extra headers. */
  readonly entitlement: Entitlement;
  readonly session: SessionRef | null;
  readonly route: RouteDef;
  readonly format: FormatCodec;
  readonly provider: ResolvedProvider;
  readonly model: string;
  /** "<provider>/<model>", what grants' model globs match. */
  readonly modelKey: string;
  readonly info: RequestInfo;
  readonly stream: boolean;
  readonly clientHeaders: Headers;
  /** The request's path as the client sent it (hook metadata). */
  readonly path: string;
  /** The parsed request body (null for bodiless requests). Plugins may replace it (pre_request hooks). */
  body: unknown;
  /** Tool results this request reports for earlier calls. */
  readonly toolResults: readonly ToolResult[];
  /** Free-form markers recorded on the row, e.g. "cost_estimated", "guardrail_blocked". */
  readonly flags: string[];
  /** Plugin-private state, one typed slot per plugin (see `stateSlot`). */
  readonly state: ExchangeState;
  /** The caller's own credentials, forwarded to a passthrough provider: scrubbed like provider keys. */
  readonly clientSecrets: readonly string[];
}

/** A typed key for one plugin's state on an exchange: `const RESERVATION = stateSlot<Reservation>("quota")`. */
export interface StateSlot<T> {
  readonly name: string;
  /** Never set: carries the slot's type. */
  readonly type?: T;
}

export function stateSlot<T>(name: string): StateSlot<T> {
  return { name };
}

/** Per-exchange plugin state, read and written through typed slots only. */
export class ExchangeState {
  private readonly values = new Map<StateSlot<unknown>, unknown>();

  get<T>(slot: StateSlot<T>): T | undefined {
    return this.values.get(slot) as T | undefined;
  }

  set<T>(slot: StateSlot<T>, value: T): void {
    this.values.set(slot, value);
  }

  delete<T>(slot: StateSlot<T>): void {
    this.values.delete(slot);
  }
}

/** A refusal from a plugin: logged as a denial and answered in the format's own error shape. */
export interface Denial extends GatewayError {
  /** What refused: "policy", "quota", "hook", "guardrail", "upstream". */
  readonly category: string;
  /**
   * An "upstream" refusal of a request that provably never reached the provider (refused connection, no credentials):
   * nothing can have been billed. Any other upstream failure may have been billed and keeps its reservation.
   */
  readonly unsent?: boolean;
}

export interface Outcome {
  readonly status: number;
  readonly durationMs: number;
  readonly firstByteMs: number | null;
  readonly summary: ResponseSummary;
  /** Nanodollars; null when the model's price is unknown. Plugins may read it to settle budgets. */
  readonly costNanos: number | null;
  readonly error?: string;
  readonly denial?: Denial;
  /** Tool calls as the upstream sent them (before any rewriting the client saw). */
  readonly toolCalls: readonly ToolCall[];
  /** The upstream's answer as captured (scrubbed, cut at database.capture_limit), for hooks that ask for it. */
  readonly response?: { readonly body: Uint8Array; readonly truncated: boolean; readonly contentType: string | null };
}

export interface ExchangePlugin {
  readonly name: string;
  /** Before the upstream call, in pipeline order (gateway/pipeline.ts). A Denial stops the request. */
  before?(ex: Exchange): Promise<Denial | void> | Denial | void;
  /** Rewrites the events of a streamed response the client sees (e.g. to block a tool call). */
  streamRewriter?(ex: Exchange): EventRewriter | undefined;
  /** Rewrites a complete JSON response; returns the replacement or undefined to leave it. */
  rewriteResponse?(ex: Exchange, body: unknown, summary: ResponseSummary): unknown;
  /**
   * After the exchange ended, off the response path, in reverse pipeline order. May return extra rows to store with
   * the request.
   */
  after?(ex: Exchange, outcome: Outcome): RowExtension | void;
}
