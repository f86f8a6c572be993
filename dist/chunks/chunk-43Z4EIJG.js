import { createRequire as __keylessCreateRequire } from "node:module";
const require = __keylessCreateRequire(import.meta.url);
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __require = /* @__PURE__ */ ((x) => typeof require !== "undefined" ? require : typeof Proxy !== "undefined" ? new Proxy(x, {
  get: (a, b) => (typeof require !== "undefined" ? require : a)[b]
}) : x)(function(x) {
  if (typeof require !== "undefined") return require.apply(this, arguments);
  throw Error('Dynamic require of "' + x + '" is not supported');
});
var __commonJS = (cb, mod) => function __require2() {
  try {
    return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
  } catch (e) {
    throw mod = 0, e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// action/proxy.ts
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";

// action/errors.ts
var ActionError = class extends Error {
  name = "ActionError";
};
function describeError(err) {
  if (err instanceof ActionError) return err.message;
  if (err instanceof Error) return `unexpected error: ${err.message}`;
  return `unexpected error: ${String(err)}`;
}
function redact(text, secrets) {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("***");
  return out;
}

// action/proxy.ts
var HOP_BY_HOP = /* @__PURE__ */ new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "upgrade"]);
function createForwarder(target) {
  const base = new URL(target);
  const prefix = base.pathname.replace(/\/+$/, "");
  const client = base.protocol === "https:" ? https : http;
  const agent = new client.Agent({ keepAlive: true });
  const port = Number(base.port) || (base.protocol === "https:" ? 443 : 80);
  const server = http.createServer((req, res) => {
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
  server.on("upgrade", (req, socket, head) => {
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
  server.requestTimeout = 0;
  server.timeout = 0;
  server.headersTimeout = 6e4;
  return server;
}
async function startProxy(o, deps) {
  const pid = deps.spawnDetached(o.node, [o.script, "--target", o.target, "--ready-file", o.readyFile], o.logFile);
  const deadline = deps.clock.now() + 1e4;
  while (deps.clock.now() < deadline) {
    const port = existsSync(o.readyFile) ? Number(readFileSync(o.readyFile, "utf8").trim()) : NaN;
    if (Number.isInteger(port) && port > 0 && port < 65536) return { pid, url: `http://127.0.0.1:${port}` };
    await deps.clock.sleep(50);
  }
  const log = existsSync(o.logFile) ? readFileSync(o.logFile, "utf8").trim().slice(-2e3) : "";
  throw new ActionError(`the local proxy did not start within 10s${log ? `; its log ends:
${log}` : ""}`);
}
function stopProxy(pid) {
  try {
    process.kill(pid, "SIGTERM");
  } catch (err) {
    if (err.code !== "ESRCH") throw err;
  }
}

export {
  __require,
  __commonJS,
  __export,
  __toESM,
  ActionError,
  describeError,
  redact,
  createForwarder,
  startProxy,
  stopProxy
};
