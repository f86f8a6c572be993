// The real CLI process: SIGTERM drains in-flight streams and flushes the log; SIGKILL loses at most the last tick.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Database } from "../../gateway/store/sqlite.js";
import { capture } from "../fakes/fixtures.js";
import { type FakeUpstream, sseResponse, startFakeUpstream } from "../fakes/upstream.js";
import { KEYS, defaultProviders } from "../helpers/gateway.js";
import { startCli } from "../helpers/cli.js";

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

describe("gateway process lifecycle", () => {
  let upstream: FakeUpstream;
  let dir: string;
  const writeConfig = (name: string) => {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify({
      identity: { type: "local" },
      providers: defaultProviders(upstream.url),
      grants: [{ src: ["(loopback)"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }],
      database: { path: join(dir, `${name}.db`) },
    }));
    return { path, db: join(dir, `${name}.db`) };
  };
  before(async () => {
    upstream = await startFakeUpstream({ keys: KEYS });
    dir = mkdtempSync(join(tmpdir(), "keyless-life-"));
  });
  after(() => upstream.close());

  const body = JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });

  it("SIGTERM lets an in-flight stream finish, then flushes and exits 0", async () => {
    const { path, db } = writeConfig("term");
    const gw = await startCli(path);
    upstream.once(/^\/v1\/messages$/, () => sseResponse(capture("fixtures/anthropic-messages-tool_use.sse"), { chunkDelayMs: 40 }));
    const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", body, headers: { "content-type": "application/json" } });
    const reader = res.body!.getReader();
    await reader.read();
    gw.child.kill("SIGTERM");
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    assert.match(text, /message_stop/, "the stream was cut by shutdown");
    assert.equal(await exited(gw.child), 0);
    const rows = new Database(db, { readonly: true }).prepare("SELECT status, output_tokens FROM requests").all() as { status: number; output_tokens: number }[];
    assert.deepEqual(rows, [{ status: 200, output_tokens: 7 }]);
  });

  it("after SIGKILL the store opens cleanly and holds every row older than a second", async () => {
    const { path, db } = writeConfig("kill");
    const gw = await startCli(path);
    const n = 20;
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${gw.url}/v1/messages`, { method: "POST", body: body.replace('"stream":true', '"stream":false'), headers: { "content-type": "application/json" } });
      await res.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 1000));
    gw.child.kill("SIGKILL");
    await exited(gw.child);
    const store = new Database(db);
    assert.equal((store.pragma("integrity_check") as { integrity_check: string }[])[0]?.integrity_check, "ok");
    assert.equal((store.prepare("SELECT COUNT(*) AS n FROM requests").get() as { n: number }).n, n);
    store.close();
  });
});
