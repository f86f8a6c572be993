// Deployment shapes, tried against the real tailscaled: what a backend on the gateway's node sees as the peer address,
// and what WhoIs answers for it, when callers arrive (1) through userspace networking's forwarding to localhost,
// (2) through `tailscale serve` HTTP reverse proxying, (3) through `tailscale serve` TCP forwarding.
// docs/deploy.md is written from these answers; if a Tailscale upgrade changes one, this file says so.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfigText } from "../../gateway/config/load.js";
import { startGateway } from "../../gateway/server.js";
import { Tailnet, type TailscaleNode, freePort, waitFor } from "./tailnet.js";

interface Seen {
  readonly remote: string;
  readonly whoisStatus: number;
  readonly whoisPrincipal: string | null;
  readonly headers: Record<string, string | string[] | undefined>;
}

function principalOf(body: string): string | null {
  const who = JSON.parse(body) as { Node: { Tags?: string[] | null }; UserProfile: { LoginName: string } };
  return who.Node.Tags?.length ? who.Node.Tags.join(",") : who.UserProfile.LoginName;
}

describe("deployment shapes on a real tailnet", { timeout: 300_000 }, () => {
  let tailnet: Tailnet;
  let gw: TailscaleNode;
  let ci: TailscaleNode;
  let alice: TailscaleNode;
  let httpBackend: http.Server;
  let tcpBackend: net.Server;
  let httpPort: number;
  let tcpPort: number;

  /** WhoIs of the connection's peer address, asked while the connection is open, as keyless does. */
  async function look(remote: string): Promise<{ whoisStatus: number; whoisPrincipal: string | null }> {
    const who = await gw.whois(remote);
    return { whoisStatus: who.status, whoisPrincipal: who.status === 200 ? principalOf(who.body) : null };
  }

  before(async () => {
    tailnet = await Tailnet.start({ "tag:ai-gateway": [], "tag:ci-acme-api": [] });
    console.log(`# real tailscaled: ${await tailnet.daemonVersion()}`);
    [gw, ci, alice] = await Promise.all([
      tailnet.addNode({ hostname: "ai-gateway", tags: ["tag:ai-gateway"] }),
      tailnet.addNode({ hostname: "ci-acme-api-1", tags: ["tag:ci-acme-api"] }),
      tailnet.addNode({ hostname: "alice" }),
    ]);
    httpBackend = http.createServer((req, res) => {
      const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      void look(remote).then((w) => res.end(JSON.stringify({ remote, ...w, headers: req.headers } satisfies Seen)));
    });
    tcpBackend = net.createServer((socket) => {
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      void look(remote).then((w) => socket.end(JSON.stringify({ remote, ...w, headers: {} } satisfies Seen)));
    });
    await new Promise<void>((r) => httpBackend.listen(0, "127.0.0.1", r));
    await new Promise<void>((r) => tcpBackend.listen(0, "127.0.0.1", r));
    httpPort = (httpBackend.address() as net.AddressInfo).port;
    tcpPort = (tcpBackend.address() as net.AddressInfo).port;
  });

  after(async () => {
    httpBackend?.closeAllConnections();
    await new Promise((r) => httpBackend?.close(r));
    await new Promise((r) => tcpBackend?.close(r));
    await tailnet?.close();
  });

  async function httpVia(node: TailscaleNode, url: string, host?: string): Promise<Seen> {
    const dispatcher = node.proxyAgent();
    try {
      const headers = host ? { host } : undefined;
      const res = await fetch(url, { dispatcher, headers, signal: AbortSignal.timeout(15_000) } as RequestInit);
      assert.equal(res.status, 200, `${url} (Host ${host}): ${res.status} ${await res.clone().text()}`);
      return (await res.json()) as Seen;
    } finally {
      await dispatcher.close();
    }
  }

  /** A raw TCP connection from `node` to host:port through its tailscaled's SOCKS5 server. */
  async function tcpVia(node: TailscaleNode, host: string, port: number): Promise<Seen> {
    const socket = net.connect({ host: "127.0.0.1", port: node.socksPort });
    await new Promise<void>((r, j) => socket.once("connect", r).once("error", j));
    const read = (n: number) =>
      new Promise<Buffer>((resolve, reject) => {
        const tryRead = () => {
          const b = socket.read(n) as Buffer | null;
          if (b) resolve(b);
          else socket.once("readable", tryRead);
        };
        socket.once("error", reject);
        tryRead();
      });
    socket.write(Buffer.from([5, 1, 0]));
    assert.deepEqual([...(await read(2))], [5, 0]);
    const ip = host.split(".").map(Number);
    socket.write(Buffer.from([5, 1, 0, 1, ...ip, port >> 8, port & 255]));
    const reply = await read(10);
    assert.equal(reply[1], 0, `SOCKS5 connect to ${host}:${port} failed (${reply[1]})`);
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    await new Promise((r) => socket.once("end", r));
    return JSON.parse(Buffer.concat(chunks).toString()) as Seen;
  }

  test("userspace networking: inbound tailnet connections arrive from 127.0.0.1, WhoIs ip:port places them (proxymap)", async () => {
    for (const [node, principal] of [
      [alice, /@/],
      [ci, /^tag:ci-acme-api$/],
    ] as const) {
      const seen = await httpVia(node, `http://${gw.ip}:${httpPort}/`);
      console.log(`# userspace, ${node.options.hostname}: peer ${seen.remote}, WhoIs ${seen.whoisStatus} ${seen.whoisPrincipal}`);
      assert.match(seen.remote, /^127\.0\.0\.1:\d+$/);
      assert.equal(seen.whoisStatus, 200);
      assert.match(seen.whoisPrincipal ?? "", principal);
    }
    // The bare address without the port names nobody: only the ip:port pair maps back.
    const bare = await gw.whois("127.0.0.1");
    assert.equal(bare.status, 404);
  });

  test("kernel TUN (tailscaled in a network namespace): keyless on the tailnet address sees the caller's own address", async () => {
    const tun = await tailnet.addNode({ hostname: "tun-gateway", tags: ["tag:ai-gateway"], kernelTun: true });
    const port = await freePort();
    // A listener inside the node's namespace on 0.0.0.0, asking WhoIs (over the shared filesystem) like keyless does.
    const script = `
      const http = require("node:http"), net = require("node:net");
      const whois = (addr) => new Promise((resolve) => http.request({ socketPath: process.argv[1], path: "/localapi/v0/whois?addr=" + encodeURIComponent(addr), headers: { Host: "local-tailscaled.sock" } }, (r) => { let b = ""; r.on("data", (c) => (b += c)); r.on("end", () => resolve({ status: r.statusCode, body: b })); }).end());
      net.createServer(async (s) => { const remote = s.remoteAddress.replace(/^::ffff:/, "") + ":" + s.remotePort; const w = await whois(remote); s.end(JSON.stringify({ remote, whoisStatus: w.status, body: w.body, headers: {} })); })
        .listen(Number(process.argv[2]), "0.0.0.0", () => console.log("ready"));`;
    const listener = tun.spawnInside(process.execPath, ["-e", script, tun.socket, String(port)]);
    try {
      await new Promise<void>((resolve, reject) => {
        listener.stdout?.once("data", () => resolve());
        listener.once("exit", (code) => reject(new Error(`listener exited ${code}`)));
      });
      // alice's tailscaled learns about the new node with the next netmap, and the path goes over DERP first.
      const seen = (await waitFor("a connection from alice to the TUN node", () => tcpVia(alice, tun.ip, port), 30_000).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${tun.daemonLog().slice(-3000)}`);
      })) as Seen & { body: string };
      const principal = seen.whoisStatus === 200 ? principalOf(seen.body) : null;
      console.log(`# kernel TUN, alice: peer ${seen.remote}, WhoIs ${seen.whoisStatus} ${principal}`);
      assert.equal(seen.remote.replace(/:\d+$/, ""), alice.ip, "the caller's tailnet address reaches the socket");
      assert.equal(seen.whoisStatus, 200);
      assert.match(principal ?? "", /@/);
    } finally {
      listener.kill("SIGKILL");
    }
  });

  test("tailscale serve --http: peer is 127.0.0.1, WhoIs 404; identity only in headers, none for tagged callers", async () => {
    const port = await freePort();
    await gw.cli("serve", "--bg", `--http=${port}`, `http://127.0.0.1:${httpPort}`);
    try {
      // serve picks its handler by Host (ipnlocal getServeHandler): the node's MagicDNS name, resolved by the client's
      // tailscaled.
      const fromAlice = await httpVia(alice, `http://ai-gateway:${port}/`);
      console.log(`# serve --http, alice: peer ${fromAlice.remote}, WhoIs ${fromAlice.whoisStatus}, Tailscale-User-Login ${String(fromAlice.headers["tailscale-user-login"])}, X-Forwarded-For ${String(fromAlice.headers["x-forwarded-for"])}`);
      assert.match(fromAlice.remote, /^127\.0\.0\.1:\d+$/);
      assert.equal(fromAlice.whoisStatus, 404, "tailscaled's reverse proxy does not register its connections for WhoIs");
      assert.match(String(fromAlice.headers["tailscale-user-login"]), /@/);
      assert.equal(fromAlice.headers["x-forwarded-for"], alice.ip);
      // The forwarded-for address is a tailnet address WhoIs does place.
      assert.equal(principalOf((await gw.whois(alice.ip)).body), fromAlice.headers["tailscale-user-login"]);

      const fromCi = await httpVia(ci, `http://ai-gateway:${port}/`);
      console.log(`# serve --http, ci: peer ${fromCi.remote}, WhoIs ${fromCi.whoisStatus}, Tailscale-User-Login ${String(fromCi.headers["tailscale-user-login"])}, X-Forwarded-For ${String(fromCi.headers["x-forwarded-for"])}`);
      assert.equal(fromCi.whoisStatus, 404);
      assert.equal(fromCi.headers["tailscale-user-login"], undefined, "no identity headers for tagged nodes");
      assert.equal(fromCi.headers["x-forwarded-for"], ci.ip);
    } finally {
      await gw.cli("serve", "reset");
    }
  });

  test("keyless behind the real `tailscale serve --http`: refused unless identity.trusted_proxy; with it, each request is its caller", async () => {
    const gateway = (trusted: boolean) =>
      startGateway({
        loaded: parseConfigText(
          JSON.stringify({
            identity: { type: "tailscale", socket: gw.socket, ...(trusted ? { trusted_proxy: "tailscale-serve" } : {}) },
            providers: { anthropic: { type: "anthropic", baseurl: "http://127.0.0.1:9", apikey: "sk-ant-unused", models: ["claude-*"] } },
            config_grants: false,
            grants: [],
            database: { path: join(mkdtempSync(join(tmpdir(), "keyless-serve-")), "keyless.db") },
          }),
          {},
        ),
        listen: "127.0.0.1:0",
        logIntervalMs: 20,
        log: () => undefined,
      });
    const [plain, trusted] = await Promise.all([gateway(false), gateway(true)]);
    const [plainPort, trustedPort] = [await freePort(), await freePort()];
    await gw.cli("serve", "--bg", `--http=${plainPort}`, `http://127.0.0.1:${plain.port}`);
    await gw.cli("serve", "--bg", `--http=${trustedPort}`, `http://127.0.0.1:${trusted.port}`);
    const post = async (node: TailscaleNode, port: number) => {
      const dispatcher = node.proxyAgent();
      try {
        const res = await fetch(`http://ai-gateway:${port}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "claude-haiku-4-5", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
          dispatcher,
          signal: AbortSignal.timeout(15_000),
        } as RequestInit);
        return { status: res.status, text: await res.text() };
      } finally {
        await dispatcher.close();
      }
    };
    try {
      // serve's proxy connects from 127.0.0.1 and WhoIs cannot place it: never (loopback), never an admin.
      const refused = await post(alice, plainPort);
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.text, /tailscale serve/);
      // Opted in: the caller is WhoIs of serve's X-Forwarded-For, per request. No grants exist here, so both are refused
      // for want of a role, and the log shows who they were (serve sends no identity header for the tagged node).
      for (const node of [alice, ci]) assert.match((await post(node, trustedPort)).text, /no role granted/);
      await trusted.requestLog.flush();
      const principals = (await trusted.requestLog.list({ limit: 10 })).map((r) => r.principal);
      console.log(`# keyless behind serve with trusted_proxy: principals ${principals.join(" ")}`);
      assert.equal(principals.length, 2);
      assert.ok(principals.includes("tag:ci-acme-api"), "the CI node is its real tags");
      assert.ok(principals.includes(principalOf((await gw.whois(alice.ip)).body) ?? "?"), "alice is her real login");
    } finally {
      await gw.cli("serve", "reset");
      await Promise.all([plain.close(1000), trusted.close(1000)]);
    }
  });

  test("tailscale serve --tcp: peer is 127.0.0.1 and WhoIs of it answers as recorded", async () => {
    const port = await freePort();
    await gw.cli("serve", "--bg", `--tcp=${port}`, `tcp://127.0.0.1:${tcpPort}`);
    try {
      const seen = await tcpVia(alice, gw.ip, port);
      console.log(`# serve --tcp, alice: peer ${seen.remote}, WhoIs ${seen.whoisStatus} ${seen.whoisPrincipal}`);
      assert.match(seen.remote, /^127\.0\.0\.1:\d+$/);
      assert.equal(seen.whoisStatus, 404, "serve's TCP forwarder dials from tailscaled's own socket, unknown to WhoIs");
    } finally {
      await gw.cli("serve", "reset");
    }
  });
});
