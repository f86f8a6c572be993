// The `quota_store` config section: where budget balances live. "sqlite" (default) keeps them in the gateway's own
// database file: one gateway, or processes sharing the file on one host. "postgres" keeps them in one PostgreSQL
// database that every replica reserves against, so a budget holds across hosts.
import { z } from "zod";
import { Duration } from "./units.js";

export const QuotaStoreConfig = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("sqlite") }),
  z.strictObject({
    type: z.literal("postgres"),
    /** postgres://user:password@host:5432/database; write it as "${KEYLESS_PG_URL}" (the password is a credential). */
    url: z.string().regex(/^postgres(ql)?:\/\/./, 'expected a PostgreSQL URL such as "postgres://keyless@db:5432/keyless"'),
    /** Connections each gateway keeps. A reservation holds one for a few round trips. */
    pool_size: z.number().int().min(1).max(200).default(10),
    /**
     * How long connecting, or one statement (row-lock waits included), may take before the request fails closed
     * with a 503.
     */
    timeout: Duration.default(5000),
  }),
]);
export type QuotaStoreConfig = z.infer<typeof QuotaStoreConfig>;
export type PostgresQuotaStoreConfig = Extract<QuotaStoreConfig, { type: "postgres" }>;

/** "host:port/database" of a PostgreSQL URL, never its user or password (for logs and errors). */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname || "/"}`;
  } catch {
    return "(unparseable URL)";
  }
}
