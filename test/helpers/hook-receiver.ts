// A webhook receiver on a fixed loopback port that records every delivery and answers per path.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Received {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly at: number;
}

export type Reply = (r: Received) => { status: number; body?: unknown; hang?: boolean };

/** A webhook receiver on a fixed loopback port that can be stopped and started again. */
export class Receiver {
  readonly received: Received[] = [];
  reply: Record<string, Reply> = {};
  private server: http.Server | null = null;
  port = 0;

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        const r: Received = { path: req.url ?? "", headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
        this.received.push(r);
        const reply: Reply = this.reply[r.path] ?? (() => ({ status: 200, body: { action: "allow" } }));
        const out = reply(r);
        if (out.hang) return;
        res.writeHead(out.status, { "content-type": "application/json" }).end(JSON.stringify(out.body ?? {}));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }
}

