// Issue 11, hole 5: POST /v1/ci/sessions read and parsed its whole body before anyone was identified; two 300 MB bodies
// took the process from 104 MB to 1.9 GB while tailscaled was down. Now identity comes first and every route has a
// limit. The gateway runs as its own process (the real CLI) so its memory is measured alone (/proc/<pid>/status).
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeTailscaled, startFakeTailscaled } from "../fakes/tailscaled.js";
import { startCli } from "../helpers/cli.js";

const MiB = 1024 * 1024;
const HUGE = 300 * MiB;

/** Resident and peak resident memory of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

interface Upload {
  status: number;
  body: string;
  /** Bytes the client had handed to the socket when the answer came. */
  sentBeforeAnswer: number;
}

/**
 * Streams `total` bytes (chunked, no Content-Length, or with `declare`) that start like the JSON a session request
 * sends, stopping when the gateway answers or closes. Bounded: 60 s at most.
 */
/**
 * The gateway closes after refusing; a client still writing can hit EPIPE before it reads the answer (a race in the
 * client, not the gateway), so that one outcome is tried again.
 */
async function uploadUntilAnswered(url: string, path: string, total: number, opts: { localAddress?: string } = {}): Promise<Upload> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await upload(url, path, total, opts);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= 5 || (code !== "EPIPE" && code !== "ECONNRESET")) throw err;
    }
  }
}

/**
 * The gateway answers and closes at once; a client still writing may see the connection reset (EPIPE) before it has
 * read the answer that is already on its way. Such an attempt says nothing either way, so it is tried again.
 */
async function upload(url: string, path: string, total: number, opts: { declare?: boolean; localAddress?: string } = {}): Promise<Upload> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await uploadOnce(url, path, total, opts);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt >= 3 || (code !== "EPIPE" && code !== "ECONNRESET")) throw err;
    }
  }
}

function uploadOnce(url: string, path: string, total: number, opts: { declare?: boolean; localAddress?: string }): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const head = Buffer.from('{"session_token": true, "oidc_token": "');
    const chunk = Buffer.alloc(MiB, "a");
    let sent = 0;
    let answered = false;
    const timer = setTimeout(() => (req.destroy(new Error("upload not answered within 60 s")), undefined), 60_000);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (opts.declare) headers["content-length"] = String(total);
    const req = http.request(`${url}${path}`, { method: "POST", headers, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }, (res) => {
      answered = true;
      const at = sent;
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body, sentBeforeAnswer: at });
      });
    });
    req.on("error", (err) => {
      // The gateway closes the connection after refusing; the answer may already be in.
      if (!answered) {
        clearTimeout(timer);
        reject(err);
      }
    });
    const pump = () => {
      while (!answered && !req.destroyed && sent < total) {
        const piece = sent === 0 ? head : chunk.subarray(0, Math.min(MiB, total - sent));
        sent += piece.byteLength;
        if (!req.write(piece)) return void req.once("drain", pump);
      }
      if (sent >= total && !answered) req.end();
    };
    req.flushHeaders();
    pump();
  });
}

describe("hole 5: identity before the body, a limit on every body", () => {
  let dir: string;
  let tailscaled: FakeTailscaled;
  let down: { child: ChildProcess; url: string };
  let up: { child: ChildProcess; url: string };
  const config = (socket: string) => ({
    identity: { type: "tailscale", socket, timeout: "1s" },
    providers: {},
    grants: [{ src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } }],
    database: { path: join(dir, `${socket.length}.db`) },
    github: { repos: { "acme/api": { tags: ["tag:ci-acme-api"], session_tokens: true } } },
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "keyless-bodies-"));
    tailscaled = await startFakeTailscaled({ "127.0.0.2": { login: "alice@example.com" } });
    writeFileSync(join(dir, "down.json"), JSON.stringify(config("/nonexistent/tailscaled.sock")));
    writeFileSync(join(dir, "up.json"), JSON.stringify(config(tailscaled.socketPath)));
    [down, up] = await Promise.all([startCli(join(dir, "down.json")), startCli(join(dir, "up.json"))]);
  });
  after(async () => {
    for (const g of [down, up]) g?.child.kill("SIGKILL");
    await tailscaled?.close();
  });

  it("a 300 MB streamed body to /v1/ci/sessions while tailscaled is down: 503 at once, memory flat", async () => {
    const before = memory(down.child.pid!);
    const res = await upload(down.url, "/v1/ci/sessions", HUGE);
    const afterwards = memory(down.child.pid!);
    console.log(`tailscaled down, 300 MB chunked: ${res.status} after ${(res.sentBeforeAnswer / MiB).toFixed(1)} MiB sent; gateway RSS ${before.rss.toFixed(0)} → ${afterwards.rss.toFixed(0)} MiB, peak ${before.peak.toFixed(0)} → ${afterwards.peak.toFixed(0)} MiB`);
    assert.equal(res.status, 503, res.body);
    assert.match(res.body, /tailscaled LocalAPI unreachable/);
    assert.ok(afterwards.peak - before.peak < 32, `peak RSS grew by ${(afterwards.peak - before.peak).toFixed(0)} MiB`);
    assert.ok(res.sentBeforeAnswer < 64 * MiB, "answered long before the body was sent");
  });

  it("an unidentified caller asking for a session token gets 64 KiB at most (413), streamed or declared", async () => {
    const before = memory(up.child.pid!);
    const streamed = await upload(up.url, "/v1/ci/sessions", HUGE);
    const declared = await upload(up.url, "/v1/ci/sessions", HUGE, { declare: true });
    const afterwards = memory(up.child.pid!);
    console.log(`unidentified, 300 MB: streamed ${streamed.status} after ${(streamed.sentBeforeAnswer / MiB).toFixed(1)} MiB, declared ${declared.status} after ${(declared.sentBeforeAnswer / MiB).toFixed(1)} MiB; gateway peak RSS ${before.peak.toFixed(0)} → ${afterwards.peak.toFixed(0)} MiB`);
    for (const res of [streamed, declared]) {
      assert.equal(res.status, 413, res.body);
      assert.match(res.body, /limit of 65536 bytes/);
    }
    assert.ok(afterwards.peak - before.peak < 32, `peak RSS grew by ${(afterwards.peak - before.peak).toFixed(0)} MiB`);
  });

  it("an identified admin's API body is bounded too; an unidentified caller never reaches other routes' bodies", async () => {
    const admin = await uploadUntilAnswered(up.url, "/api/config/validate", 8 * MiB, { localAddress: "127.0.0.2" });
    assert.equal(admin.status, 413, admin.body);
    assert.match(admin.body, /limit of 1048576 bytes/);
    const stranger = await uploadUntilAnswered(up.url, "/api/config/validate", 8 * MiB);
    assert.equal(stranger.status, 403, stranger.body);
    assert.match(stranger.body, /loopback connection tailscaled cannot place/);
  });
});
