// The WebSocket transport as a gateway module. An upgrade request goes through the app like any request (host check,
// cross-site check, identity, body limits), to `GET /v1/responses`, which accepts it only for an identified caller;
// any refusal is written back as the HTTP answer to the upgrade. `ws` does the WebSocket protocol (permessage-deflate
// included, which Codex asks for); messages then run through the app as HTTP requests (responses.ts).
import { type IncomingMessage, STATUS_CODES, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { GatewayModule } from "../proxy/feature.js";
import type { Config } from "../config/schema.js";
import type { GatewayEnv, WebSocketAccept } from "../http/env.js";
import { serveResponsesSocket } from "./responses.js";

type AppEnv = GatewayEnv["Bindings"];
export type AppFetcher = (request: Request, env: AppEnv) => Response | Promise<Response>;

export interface WebSocketModule extends GatewayModule {
  /** Serves upgrades on `server` through `fetch` (the app's). */
  attach(server: Server, fetch: AppFetcher): void;
  /** Closes every open WebSocket (going away). */
  close(): void;
}

export const WEBSOCKET_FLAG = "websocket";

function envFor(incoming: IncomingMessage, websocket?: WebSocketAccept): AppEnv {
  // No ServerResponse exists for an upgrade or a message; nothing on these paths writes to one.
  return { incoming, outgoing: undefined as unknown as ServerResponse, ...(websocket ? { websocket } : {}) };
}

async function writeRefusal(socket: Duplex, response: Response): Promise<void> {
  const body = Buffer.from(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`];
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "connection") lines.push(`${name}: ${value}`);
  });
  lines.push(`content-length: ${body.byteLength}`, "connection: close", "", "");
  socket.end(Buffer.concat([Buffer.from(lines.join("\r\n")), body]));
}

export function createWebSocketModule(deps: { readonly getConfig: () => Config; readonly onError: (err: unknown, context: string) => void }): WebSocketModule {
  const marked = new WeakSet<Headers>();
  let wss: WebSocketServer | null = null;
  return {
    name: "websocket",
    plugin: {
      name: "websocket",
      before(ex) {
        if (marked.has(ex.clientHeaders)) ex.flags.push(WEBSOCKET_FLAG);
      },
    },
    mount(app) {
      app.get("/v1/responses", (c) => {
        const websocket = c.env?.websocket;
        if (websocket && c.req.header("upgrade")?.toLowerCase() === "websocket") {
          websocket.accept();
          return c.body(null, 200);
        }
        return c.json({ error: { message: "GET /v1/responses is a WebSocket upgrade; use POST for HTTP", type: "invalid_request_error", code: "upgrade_required" } }, 426);
      });
    },
    attach(server, fetch) {
      const ws = new WebSocketServer({ noServer: true, maxPayload: deps.getConfig().limits.max_body, perMessageDeflate: true });
      wss = ws;
      server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on("error", () => socket.destroy());
        let accepted = false;
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
        const request = new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, { method: req.method ?? "GET", headers });
        Promise.resolve(fetch(request, envFor(req, { accept: () => (accepted = true) })))
          .then(async (response) => {
            if (!accepted) return writeRefusal(socket, response);
            ws.handleUpgrade(req, socket, head, (client) =>
              serveResponsesSocket(client, { fetch: (r, incoming) => Promise.resolve(fetch(r, envFor(incoming))), upgrade: req, marked, onError: deps.onError }),
            );
          })
          .catch((err: unknown) => {
            deps.onError(err, "websocket upgrade");
            socket.destroy();
          });
      });
    },
    close() {
      for (const client of wss?.clients ?? []) client.close(1001, "gateway shutting down");
      wss?.close();
    },
  };
}
