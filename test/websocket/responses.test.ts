// The Responses WebSocket through the real gateway, with the `ws` client speaking Codex's protocol: response.create
// messages in, the stream's events out as JSON text messages; identity from the connection, the HTTP path's checks
// and rows (flagged "websocket") for every message, previous_response_id served from the connection's own state.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BROKE = "127.0.0.3";
const STRANGER = "127.0.0.9";

type Event = { type: string; response?: { id: string; output: { type: string; call_id?: string }[] }; status?: number; error?: { message?: string }; headers?: Record<string, string> };

describe("Responses over WebSocket", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" }, [BROKE]: { login: "broke@example.com" } },
      config: () => ({
        quotas: { "none:<user>": { capacity: "$0.00", rate: "$0.00/day" } },
        grants: [
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "user", models: "**" }] } },
          { src: ["broke@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "none:<user>" }] }] } },
        ],
      }),
    });
  });
  after(() => h.close());

  const open = (from: string) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${h.gateway.url.replace("http", "ws")}/v1/responses`, { localAddress: from, headers: { "openai-beta": "responses_websockets=2026-02-06", authorization: "Bearer placeholder" } });
      ws.once("open", () => resolve(ws));
      ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once("error", reject);
    });
  /** Sends one message and collects events until response.completed or an error event. */
  const turn = (ws: WebSocket, message: Record<string, unknown>) =>
    new Promise<Event[]>((resolve) => {
      const events: Event[] = [];
      const onMessage = (data: WebSocket.RawData) => {
        const event = JSON.parse(data.toString()) as Event;
        events.push(event);
        if (event.type === "response.completed" || event.type === "error") {
          ws.off("message", onMessage);
          resolve(events);
        }
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ type: "response.create", ...message }));
    });
  const rows = async (principal: string) => {
    await h.gateway.requestLog.flush();
    return h.gateway.requestLog.list({ principal, limit: 10 });
  };

  it("a response.create streams the Responses events back and is logged as the HTTP row, flagged websocket, with its tool call", async () => {
    const ws = await open(ALICE);
    const events = await turn(ws, { model: "gpt-5-mini", input: [{ role: "user", content: "run" }], tools: [], stream: true, store: false });
    assert.equal(events[0]!.type, "response.created");
    assert.equal(events.at(-1)!.type, "response.completed");
    assert.ok(events.some((e) => e.type === "response.output_item.done"));
    const [row] = await rows("alice@example.com");
    assert.equal(row!.route, "openai.responses");
    assert.ok(row!.flags.includes("websocket"), String(row!.flags));
    assert.equal(row!.status, 200);
    assert.equal(row!.tool_calls, 1);
    assert.ok(row!.input_tokens > 0);

    // The next turn names the last response and sends only the new item; the provider gets the whole conversation.
    const completed = events.at(-1)!.response!;
    const call = completed.output.find((o) => o.type === "function_call")!;
    const before = h.upstream.requests.length;
    const next = await turn(ws, { model: "gpt-5-mini", previous_response_id: completed.id, input: [{ type: "function_call_output", call_id: call.call_id, output: "hello" }], stream: true, store: false });
    assert.equal(next.at(-1)!.type, "response.completed");
    const sent = JSON.parse(h.upstream.requests[before]!.body) as { input: { type?: string; role?: string }[]; previous_response_id?: string };
    assert.equal(sent.previous_response_id, undefined);
    assert.deepEqual(sent.input.map((i) => i.type ?? i.role), ["user", "function_call", "function_call_output"]);
    ws.close();
  });

  it("generate: false (Codex's prewarm) is answered by the gateway without calling the provider", async () => {
    const ws = await open(ALICE);
    const before = h.upstream.requests.length;
    const events = await turn(ws, { model: "gpt-5-mini", input: [{ role: "user", content: "hi" }], generate: false, stream: true });
    assert.deepEqual(events.map((e) => e.type), ["response.created", "response.completed"]);
    assert.equal(h.upstream.requests.length, before);
    const next = await turn(ws, { model: "gpt-5-mini", previous_response_id: events[1]!.response!.id, input: [], stream: true });
    assert.equal(next.at(-1)!.type, "response.completed");
    assert.deepEqual((JSON.parse(h.upstream.requests.at(-1)!.body) as { input: unknown[] }).input, [{ role: "user", content: "hi" }]);
    ws.close();
  });

  it("refusals are error events with the status and the headers SDKs act on", async () => {
    const ws = await open(BROKE);
    const [event] = await turn(ws, { model: "gpt-5-mini", input: "hi", max_output_tokens: 10 });
    assert.equal(event!.type, "error");
    assert.equal(event!.status, 429);
    assert.match(event!.error!.message!, /quota exceeded/);
    assert.equal(event!.headers!["x-should-retry"], "false");
    const unknown = await turn(ws, { model: "gpt-5-mini", previous_response_id: "resp_nope", input: [] });
    assert.equal(unknown[0]!.status, 400);
    ws.close();
  });

  it("an unidentified peer's upgrade is refused before any WebSocket exists", async () => {
    const err = await open(STRANGER).catch((e: unknown) => e);
    assert.equal((err as { status?: number }).status, 403);
    await waitFor(async () => (await rows("alice@example.com")).length > 0, 1000, "rows");
  });
});
