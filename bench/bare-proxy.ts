// The plainest Node proxy: node:http in, an undici Pool out, nothing else (no identity, no policy, no logging).
// The bench's yardstick: keyless is measured against it in the same run. Usage: UPSTREAM=http://… node bare-proxy.ts
import http from "node:http";
import { Pool } from "undici";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "proxy-connection"]);
const strip = (headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name))) as Record<string, string | string[]>;

const upstream = new Pool(process.env.UPSTREAM!, { connections: 256 });
const server = http.createServer((req, res) => {
  upstream.request({ path: req.url!, method: req.method as "POST", headers: strip(req.headers), body: req }).then(
    ({ statusCode, headers, body }) => {
      res.writeHead(statusCode, strip(headers));
      body.pipe(res);
    },
    () => res.writeHead(502).end(),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
