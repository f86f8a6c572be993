// Aperture's hook payload (HookCallData, github.com/tailscale/aperture-recipes docs/protocol-reference.md), for hooks a
// grant names with a `send` list: `metadata` always, and exactly the data `send` selects. Bodies come from the
// exchange and its scrubbed capture; provider keys and client credentials live in headers, never here.
import { NATURAL_COST_BASIS } from "../config/aperture.js";
import type { HookSend } from "../config/grants.js";
import { isRecord } from "../formats/codec.js";
import type { Exchange, Outcome } from "../proxy/exchange.js";
import { clientSession } from "../proxy/record.js";
import { scrubValue, scrubberFor } from "../proxy/scrub.js";
import type { BucketStore, Charge } from "../quotas/bucket-store.js";
import type { ToolCallRecord } from "../store/tool-calls.js";
import { storedEvents } from "../stream/index.js";

/** A bucket as Aperture reports it: nanodollars, and the refill rate as configured. */
export interface QuotaView {
  readonly current: number | null;
  readonly capacity: number;
  readonly rate: string;
}

/** Each bucket's balance now, with its definition; null where the store cannot be read (the payload still goes). */
export async function quotaViews(store: Pick<BucketStore, "peek">, charges: readonly Charge[]): Promise<Record<string, QuotaView>> {
  const balances = await Promise.all(
    charges.map(async (c) => {
      try {
        return (await store.peek(c)).balance;
      } catch {
        return null;
      }
    }),
  );
  return Object.fromEntries(charges.map((c, i) => [c.bucket, { current: balances[i] ?? null, capacity: c.def.capacity, rate: c.def.rate.text }]));
}

export interface PayloadContext {
  /** The tailnet's MagicDNS name ("tail1234.ts.net"), when known. */
  readonly tailnetName: string | null;
  /** Capabilities that carry grants: `grants` reports every other capability the caller holds. */
  readonly grantCapabilities: readonly string[];
  /** The buckets the request is charged to, for `quotas`, as read when the request arrived. */
  readonly quotas: (ex: Exchange) => Readonly<Record<string, QuotaView>>;
}

export function requestUrl(ex: Exchange): string {
  return `http://${ex.clientHeaders.get("host") ?? "keyless"}${ex.path}`;
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part) => (typeof part === "string" ? part : isRecord(part) && typeof part.text === "string" ? part.text : ""))
    .filter((t) => t !== "")
    .join("\n");
}

/**
 * The newest user turn with text (Anthropic, OpenAI Chat and Bedrock `messages`, OpenAI Responses `input`, Gemini
 * `contents`); agent turns that carry only tool results are skipped. Null when there is none.
 */
export function userMessage(body: unknown): string | null {
  if (!isRecord(body)) return null;
  if (typeof body.input === "string") return body.input;
  const turns = [body.messages, body.input, body.contents].find(Array.isArray) as unknown[] | undefined;
  for (const turn of [...(turns ?? [])].reverse()) {
    if (!isRecord(turn) || (turn.role !== undefined && turn.role !== "user")) continue;
    const text = textOf(turn.content ?? turn.parts);
    if (text !== "") return text;
  }
  return null;
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The upstream's answer: `response_body` as one object (streams rebuilt), `raw_responses` as the events' data. */
function responseParts(ex: Exchange, outcome: Outcome | null): { body: unknown; raw: unknown[] } {
  const response = outcome?.response;
  if (!response) return { body: null, raw: [] };
  const events = storedEvents(response.contentType, response.body);
  if (events === null) {
    const body = parsed(Buffer.from(response.body).toString("utf8"));
    return { body, raw: [body] };
  }
  // Rebuilding joins text deltas, which can join a secret an upstream cut in two: scrubbed again.
  const scrubber = scrubberFor([...ex.provider.adapter.secrets(ex.provider.config), ...ex.clientSecrets]);
  return { body: scrubValue(ex.format.rebuild?.(events) ?? null, scrubber), raw: events.filter((e) => e.data !== "[DONE]").map((e) => parsed(e.data)) };
}

export function aperturePayload(send: ReadonlySet<HookSend>, ex: Exchange, outcome: Outcome | null, toolCalls: readonly ToolCallRecord[], context: PayloadContext) {
  const { identity } = ex;
  const metadata: Record<string, unknown> = {
    // Aperture names a tagged device by its sorted, comma-joined tags.
    login_name: identity.login ?? identity.principal,
    user_agent: ex.clientHeaders.get("user-agent") ?? "",
    url: requestUrl(ex),
    model: ex.model,
    provider: ex.provider.name,
    tailnet_name: context.tailnetName ?? "",
    stable_node_id: identity.nodeId ?? "",
    request_id: ex.id,
    session_id: ex.session?.id ?? clientSession(ex.clientHeaders) ?? "",
  };
  if (send.has("grants")) {
    metadata.grants = Object.fromEntries(Object.entries(identity.capMap).filter(([cap]) => !context.grantCapabilities.includes(cap)));
  }
  if (send.has("estimated_cost") && outcome) {
    const usage = outcome.summary.usage;
    metadata.estimated_cost = {
      dollars: (outcome.costNanos ?? 0) / 1e9,
      // Aperture's "<cost basis>/<model>": the price table the dollars come from.
      cost_basis: `${ex.provider.config.cost_basis ?? NATURAL_COST_BASIS[ex.provider.config.type]}/${ex.model}`,
      usage: {
        input_tokens: usage?.input ?? 0,
        output_tokens: usage?.output ?? 0,
        cached_tokens: usage?.cacheRead ?? 0,
        cache_creation_input_tokens: usage?.cacheWrite ?? 0,
        reasoning_tokens: usage?.reasoning ?? 0,
      },
    };
  }
  if (send.has("quotas")) metadata.quotas = context.quotas(ex);
  const payload: Record<string, unknown> = { metadata };
  if (send.has("request_body")) payload.request_body = ex.body;
  if (send.has("user_message")) payload.user_message = userMessage(ex.body);
  if (send.has("response_body") || send.has("raw_responses")) {
    const { body, raw } = responseParts(ex, outcome);
    if (send.has("response_body")) payload.response_body = body;
    if (send.has("raw_responses")) payload.raw_responses = raw;
  }
  if (send.has("tools")) payload.tool_calls = toolCalls.map((c) => ({ name: c.name, params: c.args }));
  return payload;
}
