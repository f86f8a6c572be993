// The SQLite driver for this Node. better-sqlite3 13 (Node-API) is the only build that survives Node 24's ObjectWrap
// cleanup hooks (12.x aborts with "Assertion failed: (env) != nullptr" when a statement is collected outside a
// context, nodejs/node#65446); 13 segfaults on Node 20, which keeps 12.x, installed as the optional `better-sqlite3-v12`.
import type BetterSqlite3 from "better-sqlite3";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const major = Number(process.versions.node.split(".")[0]);

export const Database: typeof BetterSqlite3 = require(major >= 22 ? "better-sqlite3" : "better-sqlite3-v12") as typeof BetterSqlite3;
export type Database = BetterSqlite3.Database;
