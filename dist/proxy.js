import { createRequire as __keylessCreateRequire } from "node:module";
const require = __keylessCreateRequire(import.meta.url);

// action/proxy-index.ts
import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

// action/proxy.ts
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";
var HOP_BY_HOP = /* @__PURE__ */ new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade"]);
function createForwarder(target) {
  const base = new URL(target);
  const prefix = base.pathname.replace(/\/+$/, "");
  const client = base.protocol === "https:" ? https : http;
  const agent = new client.Agent({ keepAlive: true });
  const port = Number(base.port) || (base.protocol === "https:" ? 443 : 80);
  const server2 = http.createServer((req, res) => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== void 0) headers[k] = v;
    headers.host = base.host;
    const upstream = client.request({ host: base.hostname, port, method: req.method, path: prefix + (req.url ?? "/"), headers, agent });
    upstream.on("response", (up) => {
      const out = {};
      for (const [k, v] of Object.entries(up.headers)) if (!HOP_BY_HOP.has(k) && v !== void 0) out[k] = v;
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
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  server2.on("upgrade", (req, socket, head) => {
    const conn = base.protocol === "https:" ? tls.connect({ host: base.hostname, port, servername: base.hostname }) : net.connect({ host: base.hostname, port });
    conn.on(base.protocol === "https:" ? "secureConnect" : "connect", () => {
      const lines = [`${req.method} ${prefix}${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        lines.push(`${name}: ${name.toLowerCase() === "host" ? base.host : req.rawHeaders[i + 1]}`);
      }
      conn.write(`${lines.join("\r\n")}\r
\r
`);
      if (head.length) conn.write(head);
      conn.pipe(socket).pipe(conn);
    });
    conn.on("error", () => socket.destroy());
    socket.on("error", () => conn.destroy());
  });
  server2.requestTimeout = 0;
  server2.timeout = 0;
  server2.headersTimeout = 6e4;
  return server2;
}

// action/proxy-index.ts
var { values } = parseArgs({ options: { target: { type: "string" }, "ready-file": { type: "string" }, port: { type: "string", default: "0" } } });
if (!values.target || !values["ready-file"]) {
  console.error("usage: node proxy.js --target <url> --ready-file <path> [--port <n>]");
  process.exit(2);
}
var readyFile = values["ready-file"];
var server = createForwarder(values.target);
server.listen(Number(values.port), "127.0.0.1", () => {
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected listen address");
  writeFileSync(`${readyFile}.tmp`, String(address.port));
  renameSync(`${readyFile}.tmp`, readyFile);
  console.log(`keyless proxy: 127.0.0.1:${address.port} -> ${values.target}`);
});
var stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
