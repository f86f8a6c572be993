// A throwaway PostgreSQL database per test run, on the server the machine runs (127.0.0.1:5432, trust auth; CI starts
// it in .ci/run). Not reachable is a failure that says how to start it, never a skip: a skipped budget test would
// hide the only check that budgets hold across replicas.
import { randomBytes } from "node:crypto";
import net from "node:net";
import type { AddressInfo } from "node:net";
import pg from "pg";

/** The server's maintenance database, where test databases are created. */
export const PG_ADMIN_URL = process.env.KEYLESS_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A connection pool to the test database, for assertions. */
  readonly pool: pg.Pool;
  /** URL of the same database through another host:port (a proxy in front of it). */
  urlVia(host: string, port: number): string;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>, adminUrl = PG_ADMIN_URL): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${adminUrl} (${err instanceof Error ? err.message : String(err)}). ` +
        "The quota store tests need it: start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` " +
        "(.ci/run does), or point KEYLESS_TEST_PG_URL at a server where this user may create databases.",
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A new database on the shared server, or on the server at `adminUrl` (a test's own: test/helpers/private-postgres.ts). */
export async function createTestDatabase(adminUrl = PG_ADMIN_URL): Promise<TestDatabase> {
  const name = `keyless_test_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`), adminUrl);
  const withDb = (u: URL) => ((u.pathname = `/${name}`), u);
  const url = withDb(new URL(adminUrl)).toString();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => undefined);
  return {
    name,
    url,
    pool,
    urlVia(host, port) {
      const u = withDb(new URL(adminUrl));
      u.hostname = host;
      u.port = String(port);
      return u.toString();
    },
    async drop() {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`), adminUrl);
    },
  };
}

/** Ends every session connected to the database except the caller's (what a server restart does to clients). */
export async function terminateConnections(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: string }>(
    "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    [db.name],
  );
  return Number(rows[0]!.n);
}

/** A TCP relay in front of the database: stop() is the database going away (open connections cut, new ones refused). */
export interface TcpRelay {
  readonly port: number;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startTcpRelay(targetHost: string, targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(targetPort, targetHost);
        const close = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on("error", close).on("close", close);
        }
        client.pipe(upstream).pipe(client);
      });
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async stop() {
      const s = server;
      server = null;
      for (const sock of sockets) sock.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    start: listen,
  };
}
