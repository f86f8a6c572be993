// The store's migrations: a database made by the schema keyless created before migrations (SQLite file, or a
// quota_store PostgreSQL database) moves forward with its data intact; replicas starting together migrate once;
// `keyless db copy` moves an SQLite gateway's rows into PostgreSQL.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, describe, it } from "node:test";
import { type Store, openStore } from "../../gateway/store/db.js";
import { migrationStatus } from "../../gateway/store/migrate.js";
import { RequestLog } from "../../gateway/store/requests.js";
import { SessionStore } from "../../gateway/store/sessions.js";
import { Database } from "../../gateway/store/sqlite.js";
import { type TestDatabase, createTestDatabase } from "../helpers/postgres.js";
import { all } from "../helpers/store.js";

const run = promisify(execFile);
const OLD_SQLITE = readFileSync(new URL("../fixtures/store/schema-before-migrations.sqlite.sql", import.meta.url), "utf8");
const OLD_PG_QUOTAS = readFileSync(new URL("../fixtures/store/quota-store-before-migrations.postgres.sql", import.meta.url), "utf8");
const MIGRATIONS = ["0001-initial", "0002-claims", "0003-secret-findings", "0004-routing", "0005-config-audit-text", "0006-export", "0007-one-outbox"];

/** A file as a keyless release before migrations left it: its schema, one row in each main table. */
function oldSqliteFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), "keyless-old-")), "keyless.db");
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(OLD_SQLITE);
  db.exec(`
    INSERT INTO requests (id, ts, principal, tags, route, method, path, status, duration_ms, streamed, input_tokens, output_tokens, cost_nanos, flags, session_id)
      VALUES ('req_1', 1700000000000, 'alice@example.com', '["tag:ci"]', 'anthropic.messages', 'POST', '/v1/messages', 200, 12.5, 1, 10, 20, 3000, '[]', 'ses_1');
    INSERT INTO captures (request_id, ts, request_headers, request_body, response_headers) VALUES ('req_1', 1700000000000, '{"a":"b"}', NULL, '{}');
    INSERT INTO tool_calls (request_id, position, ts, principal, call_id, name, kind, action) VALUES ('req_1', 0, 1700000000000, 'alice@example.com', 'c1', 'Bash', 'shell', 'log');
    INSERT INTO ci_sessions (id, node_id, repository, repository_id, owner, owner_id, sha, run_id, run_attempt, workflow, actor, event, ref, started_at)
      VALUES ('ses_1', 'n1', 'acme/api', '42', 'acme', '7', 'abc', '9', '1', 'ci', 'alice', 'push', 'refs/heads/main', 1700000000000);
    INSERT INTO ci_check_pending (session_id, due_at, since) VALUES ('ses_1', 1700000000000, 1700000000000);
    INSERT INTO quota_buckets (bucket, quota, balance_nanos, carry, updated_ms) VALUES ('team', 'daily', 123456789, 0, 1700000000000);
    INSERT INTO quota_charges (request_id, bucket, quota, ts, reserved_nanos, charged_nanos, at_reservation) VALUES ('req_1', 'team', 'daily', 1700000000000, 5000, 3000, 0);
    INSERT INTO hook_outbox (msg_id, hook, event, payload, created_at, due_at) VALUES ('msg_1', 'audit', 'entire_request', '{}', 1700000000000, 1700000000000);
    INSERT INTO quota_settlements_pending (request_id, lines, charged_nanos, at_reservation, ts) VALUES ('req_1', '[]', 3000, 1, 1700000000000);
    INSERT INTO config_audit (ts, principal, source, old_hash, new_hash, diff) VALUES (1700000000000, NULL, 'sighup', 'a', 'b', '+x');
  `);
  db.close();
  return path;
}

/** Column name, declared type, not-null, default and key of every table: what a schema is, engine-neutrally. */
async function columns(store: Store): Promise<string[]> {
  const tables = await all<{ name: string }>(store, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kysely_%' AND name != 'sqlite_sequence' ORDER BY name");
  const out: string[] = [];
  for (const { name } of tables) {
    for (const c of await all<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }>(store, `PRAGMA table_info(${name})`)) {
      out.push(`${name}.${c.name} ${c.type.toLowerCase()} ${c.notnull} ${c.dflt_value} ${c.pk}`);
    }
  }
  return out;
}

describe("store migrations", () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });
  const track = <T extends Store | TestDatabase>(x: T): T => (cleanup.push(() => ("drop" in x ? x.drop() : x.close())), x);

  it("an SQLite file made before migrations migrates forward with its data intact and the same schema as a new one", async () => {
    const path = oldSqliteFile();
    const store = track(await openStore({ type: "sqlite", path, pool_size: 1 }));
    assert.deepEqual((await migrationStatus(store)).map((m) => [m.name, m.executedAt !== null]), MIGRATIONS.map((m) => [m, true]));
    const got = await new RequestLog(store).get("req_1");
    assert.equal(got?.row.principal, "alice@example.com");
    assert.deepEqual(got?.row.tags, ["tag:ci"]);
    assert.equal(got?.row.streamed, true);
    assert.deepEqual(got?.capture?.requestHeaders, { a: "b" });
    const sessions = new SessionStore(store, "test");
    assert.equal((await sessions.get("ses_1"))?.repository, "acme/api");
    assert.equal((await sessions.claimDue(1700000000000, 1000)).length, 1, "the pending check-run write is claimable");
    assert.deepEqual(await all(store, "SELECT balance_nanos FROM quota_buckets"), [{ balance_nanos: 123456789 }]);
    assert.deepEqual(await all(store, "SELECT kind, key, hook, event, payload, dead_at FROM outbox ORDER BY kind"), [
      { kind: "check_run", key: "ses_1", hook: null, event: null, payload: "", dead_at: null },
      { kind: "settlement", key: "req_1", hook: null, event: null, payload: '{"lines":[],"charged":3000,"atReservation":true}', dead_at: null },
      { kind: "webhook", key: "msg_1", hook: "audit", event: "entire_request", payload: "{}", dead_at: null },
    ]);

    const fresh = track(await openStore({ type: "sqlite", path: join(mkdtempSync(join(tmpdir(), "keyless-new-")), "k.db"), pool_size: 1 }));
    assert.deepEqual(await columns(store), await columns(fresh));
  });

  it("a quota_store PostgreSQL database made before migrations keeps its balances and charges", async () => {
    const db = track(await createTestDatabase());
    await db.pool.query(OLD_PG_QUOTAS);
    await db.pool.query("INSERT INTO quota_buckets VALUES ('team', 'daily', 999, 0, 1700000000000)");
    await db.pool.query("INSERT INTO quota_charges VALUES ('req_1', 'team', 'daily', 1700000000000, 10, 7, true), ('req_2', 'team', 'daily', 1700000000001, 10, 8, false)");
    const store = track(await openStore({ type: "postgres", url: db.url, pool_size: 2, path: "" }));
    assert.deepEqual(
      await all(store, "SELECT request_id, charged_nanos, at_reservation FROM quota_charges ORDER BY request_id"),
      [{ request_id: "req_1", charged_nanos: 7, at_reservation: 1 }, { request_id: "req_2", charged_nanos: 8, at_reservation: 0 }],
    );
    assert.deepEqual(await all(store, "SELECT balance_nanos FROM quota_buckets"), [{ balance_nanos: 999 }]);
  });

  it("replicas starting together on one PostgreSQL database apply each migration once", async () => {
    const db = track(await createTestDatabase());
    const stores = await Promise.all([1, 2, 3].map(() => openStore({ type: "postgres", url: db.url, pool_size: 2, path: "" })));
    for (const s of stores) track(s);
    const { rows } = await db.pool.query<{ name: string }>("SELECT name FROM kysely_migration ORDER BY name");
    assert.deepEqual(rows.map((r) => r.name), MIGRATIONS);
  });

  it("keyless db status, migrate and copy", async () => {
    const path = oldSqliteFile();
    const db = track(await createTestDatabase());
    const cli = (...args: string[]) => run(process.execPath, ["--import", "tsx", "gateway/cli.ts", "db", ...args], { timeout: 60_000 });
    const copied = await cli("copy", "--from", path, "--to", db.url);
    assert.match(copied.stdout, /requests: 1 of 1 rows copied/);
    assert.match(copied.stdout, /quota_buckets: 1 of 1 rows copied/);
    assert.match(copied.stdout, /outbox: 3 of 3 rows copied/);
    const again = await cli("copy", "--from", path, "--to", db.url);
    assert.match(again.stdout, /requests: 0 of 1 rows copied \(the rest were there already\)/);
    const store = track(await openStore({ type: "postgres", url: db.url, pool_size: 2, path: "" }));
    const got = await new RequestLog(store).get("req_1");
    assert.equal(got?.row.cost_nanos, 3000);
    assert.deepEqual(await all(store, "SELECT balance_nanos FROM quota_buckets"), [{ balance_nanos: 123456789 }]);
    assert.deepEqual(await all(store, "SELECT kind, key FROM outbox ORDER BY kind"), [
      { kind: "check_run", key: "ses_1" },
      { kind: "settlement", key: "req_1" },
      { kind: "webhook", key: "msg_1" },
    ]);
    // A new row after the copy takes an id past the copied ones.
    await store.db.insertInto("config_audit").values({ ts: 1, principal: null, source: "api", old_hash: "b", new_hash: "c", diff: "" }).execute();
    assert.deepEqual((await all<{ id: number }>(store, "SELECT id FROM config_audit ORDER BY id")).map((r) => r.id), [1, 2]);

    const newFile = join(mkdtempSync(join(tmpdir(), "keyless-cli-")), "k.db");
    const { writeFileSync } = await import("node:fs");
    const config = join(mkdtempSync(join(tmpdir(), "keyless-cfg-")), "keyless.jsonc");
    writeFileSync(config, JSON.stringify({ database: { path: newFile } }));
    assert.match((await cli("status", "--config", config)).stdout, /0001-initial {2}pending/);
    assert.match((await cli("migrate", "--config", config)).stdout, /applied 0001-initial, 0002-claims, 0003-secret-findings, 0004-routing, 0005-config-audit-text, 0006-export, 0007-one-outbox/);
    assert.match((await cli("status", "--config", config)).stdout, /0007-one-outbox {2}applied /);
    assert.match((await cli("migrate", "--config", config)).stdout, /up to date/);
  });
});

