// A forwarder on 127.0.0.1 to the gateway, for clients that want a localhost URL (Gemini CLI's https-unless-localhost
// rule). It streams both ways without buffering, so SSE and event-stream responses arrive as the gateway sends them.
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
import type { Clock, SpawnDetached } from "./deps.js";
import { ActionError } from "./errors.js";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade"]);

export function createForwarder(target: string): http.Server {
  const base = new URL(target);
  const prefix = base.pathname.replace(/\/+$/, "");
  const client = base.protocol === "https:" ? https : http;
  const agent = new client.Agent({ keepAlive: true });
  const port = Number(base.port) || (base.protocol === "https:" ? 443 : 80);

  const server = http.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    headers.host = base.host;
    const upstream = client.request({ host: base.hostname, port, method: req.method, path: prefix + (req.url ?? "/"), headers, agent });
    upstream.on("response", (up) => {
      const out: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
      res.flushHeaders();
      up.pipe(res);
      up.on("error", () => res.destroy());
    });
    upstream.on("error", (err) => {
      if (res.headersSent) return void res.destroy(err);
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "proxy_upstream_error", message: `keyless local proxy could not reach ${target}: ${err.message}` } }));
    });
    // A client that goes away must not leave an upstream generation running.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });

  // WebSocket and other upgrades are tunnelled as raw bytes after the handshake is forwarded.
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const conn =
      base.protocol === "https:" ? tls.connect({ host: base.hostname, port, servername: base.hostname }) : net.connect({ host: base.hostname, port });
    conn.on(base.protocol === "https:" ? "secureConnect" : "connect", () => {
      const lines = [`${req.method} ${prefix}${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i]!;
        lines.push(`${name}: ${name.toLowerCase() === "host" ? base.host : req.rawHeaders[i + 1]}`);
      }
      conn.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length) conn.write(head);
      conn.pipe(socket).pipe(conn);
    });
    conn.on("error", () => socket.destroy());
    socket.on("error", () => conn.destroy());
  });

  // Generations can stream for many minutes; only the header phase is bounded.
  server.requestTimeout = 0;
  server.timeout = 0;
  server.headersTimeout = 60_000;
  return server;
}

/** Starts `node proxy.js` detached so it outlives this step; resolves once it listens. */
export async function startProxy(
  o: { target: string; node: string; script: string; readyFile: string; logFile: string },
  deps: { spawnDetached: SpawnDetached; clock: Clock },
): Promise<{ pid: number; url: string }> {
  const pid = deps.spawnDetached(o.node, [o.script, "--target", o.target, "--ready-file", o.readyFile], o.logFile);
  const deadline = deps.clock.now() + 10_000;
  while (deps.clock.now() < deadline) {
    // The ready file holds the port, written atomically by proxy-index.ts (kept free of zod to stay small).
    const port = existsSync(o.readyFile) ? Number(readFileSync(o.readyFile, "utf8").trim()) : NaN;
    if (Number.isInteger(port) && port > 0 && port < 65536) return { pid, url: `http://127.0.0.1:${port}` };
    await deps.clock.sleep(50);
  }
  const log = existsSync(o.logFile) ? readFileSync(o.logFile, "utf8").trim().slice(-2000) : "";
  throw new ActionError(`the local proxy did not start within 10s${log ? `; its log ends:\n${log}` : ""}`);
}

export function stopProxy(pid: number): void {
  try {
    process.kill(pid, "SIGTERM");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}
