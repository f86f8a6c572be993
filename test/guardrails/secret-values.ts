// Credentials in their real formats, made fresh for each run (random bodies, real checksums): nothing here is a
// live secret, and no test depends on a fixed value.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { base62 } from "../../gateway/guardrails/secrets/verify.js";
import type { Harness } from "../helpers/gateway.js";
import { all } from "../helpers/store.js";

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const pick = (alphabet: string, n: number) => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join("");

export const random = {
  alnum: (n: number) => pick(ALNUM, n),
  upper32: (n: number) => pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n),
};

/** A GitHub or npm token with a valid CRC32 (`ghp`, `gho`, `ghu`, `ghs`, `ghr`, `npm`). */
export function checksummedToken(prefix: string): string {
  const body = random.alnum(30);
  return `${prefix}_${body}${base62(crc32(body) >>> 0, 6)}`;
}

/** The same shape with a checksum that does not match (an example or a look-alike). */
export function badChecksumToken(prefix: string): string {
  const good = checksummedToken(prefix);
  const last = good.at(-1) === "A" ? "B" : "A";
  return `${good.slice(0, -1)}${last}`;
}

export function envFile() {
  const github = checksummedToken("ghp");
  const npm = checksummedToken("npm");
  const awsId = `AKIA${random.upper32(16)}`;
  const awsSecret = random.alnum(40);
  const dbPassword = random.alnum(20);
  return {
    github,
    npm,
    awsId,
    awsSecret,
    dbPassword,
    text: [
      "# local settings",
      `GITHUB_TOKEN=${github}`,
      `NPM_TOKEN=${npm}`,
      `AWS_ACCESS_KEY_ID=${awsId}`,
      `AWS_SECRET_ACCESS_KEY=${awsSecret}`,
      `DATABASE_URL=postgres://app:${dbPassword}@db.internal:5432/app`,
      "PORT=8080",
      "",
    ].join("\n"),
  };
}

/**
 * Everything the gateway's store holds, as text to search: the SQLite file and its WAL byte for byte (when the store
 * is SQLite), every row of the tables the request path writes, and the captures of `requestIds` decompressed.
 */
export async function storeContents(h: Harness, requestIds: readonly string[]): Promise<string> {
  await h.gateway.requestLog.flush();
  const dir = dirname(h.dbPath);
  const files = existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString("latin1")) : [];
  const tables = await Promise.all(
    ["requests", "tool_calls", "secret_findings", "outbox"].map(async (t) => JSON.stringify(await all(h.gateway.store, `SELECT * FROM ${t}`))),
  );
  const captures = await Promise.all(
    requestIds.map(async (id) => {
      const c = (await h.gateway.requestLog.get(id))?.capture;
      return c ? `${Buffer.from(c.requestBody ?? []).toString("latin1")}\n${Buffer.from(c.responseBody ?? []).toString("latin1")}` : "";
    }),
  );
  return [...files, ...tables, ...captures].join("\n");
}
