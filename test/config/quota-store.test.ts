// The quota_store section: SQLite by default, PostgreSQL with a URL from the environment; a password written into the
// URL is a literal credential the config API refuses, and the URL never shows up in messages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfigText } from "../../gateway/config/load.js";
import { describePostgresUrl } from "../../gateway/config/quota-store.js";
import { literalSecrets } from "../../gateway/config/text.js";

const problems = (text: string): string[] => {
  try {
    parseConfigText(text, {});
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
};

describe("quota_store config", () => {
  it("defaults to the gateway's SQLite file", () => {
    assert.deepEqual(parseConfigText("{}", {}).config.quota_store, { type: "sqlite" });
  });

  it("takes a PostgreSQL URL from the environment, with pool and timeout defaults", () => {
    const { config } = parseConfigText(`{"quota_store": {"type": "postgres", "url": "\${KEYLESS_PG_URL}"}}`, { KEYLESS_PG_URL: "postgres://keyless:pw@db:5432/keyless" });
    assert.deepEqual(config.quota_store, { type: "postgres", url: "postgres://keyless:pw@db:5432/keyless", pool_size: 10, timeout: 5000 });
  });

  it("names what is wrong", () => {
    assert.deepEqual(problems(`{"quota_store": {"type": "postgres", "url": "mysql://db/k"}}`), ['quota_store.url: expected a PostgreSQL URL such as "postgres://keyless@db:5432/keyless"']);
    assert.match(problems(`{"quota_store": {"type": "redis"}}`).join("\n"), /^quota_store\.type: /);
    assert.match(problems(`{"quota_store": {"type": "sqlite", "url": "postgres://db/k"}}`).join("\n"), /unknown config key "url"/);
  });

  it("treats a password written into a URL as a literal credential, also as an ${ENV:-default}", () => {
    assert.deepEqual(literalSecrets(`{"quota_store": {"type": "postgres", "url": "postgres://keyless:s3cret@db/k"}}`), [{ path: "quota_store.url", value: "s3cret" }]);
    assert.deepEqual(literalSecrets(`{"quota_store": {"type": "postgres", "url": "\${PG_URL:-postgres://keyless:s3cret@db/k}"}}`), [{ path: "quota_store.url", value: "s3cret" }]);
    assert.deepEqual(literalSecrets(`{"quota_store": {"type": "postgres", "url": "\${KEYLESS_PG_URL}"}}`), []);
    assert.deepEqual(literalSecrets(`{"quota_store": {"type": "postgres", "url": "postgres://keyless:\${PG_PASSWORD}@db/k"}}`), []);
    assert.deepEqual(literalSecrets(`{"quota_store": {"type": "postgres", "url": "postgres://keyless@db/k"}}`), []);
  });

  it("describes a URL by host, port and database only", () => {
    assert.equal(describePostgresUrl("postgres://keyless:s3cret@db.internal:6432/budgets?sslmode=require"), "db.internal:6432/budgets");
    assert.equal(describePostgresUrl("postgresql://db/k"), "db:5432/k");
  });
});
