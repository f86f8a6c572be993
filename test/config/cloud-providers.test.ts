import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, parseConfigText } from "../../gateway/config/load.js";
import type { ProviderConfig } from "../../gateway/config/providers.js";
import { bedrockControlUrl, bedrockRuntimeUrl } from "../../gateway/providers/bedrock.js";
import { vertexBaseUrl } from "../../gateway/providers/vertex.js";

const PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
const SA = { type: "service_account", client_email: "sa@p.iam.gserviceaccount.com", private_key: PEM, private_key_id: "k1", project_id: "p" };

function provider(section: Record<string, unknown>, env: Record<string, string> = {}): ProviderConfig {
  const { config } = parseConfigText(JSON.stringify({ providers: { x: { models: ["*"], ...section } } }), env);
  return config.providers.x!;
}

function problems(section: Record<string, unknown>, env: Record<string, string> = {}): string {
  try {
    provider(section, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join("\n");
    throw err;
  }
  return "";
}

describe("vertex and bedrock provider config", () => {
  it("reads a service account from ${ENV} JSON or from a file, and an express key from {api_key}", () => {
    const fromEnv = provider({ type: "vertex", project: "p", region: "us-east5", credentials: "${SA_JSON}" }, { SA_JSON: JSON.stringify(SA) });
    assert.ok(fromEnv.type === "vertex" && fromEnv.credentials.kind === "service_account");
    assert.equal(fromEnv.credentials.client_email, SA.client_email);
    assert.equal(fromEnv.token_url, "https://oauth2.googleapis.com/token");

    const file = join(mkdtempSync(join(tmpdir(), "keyless-sa-")), "sa.json");
    writeFileSync(file, JSON.stringify(SA));
    const fromFile = provider({ type: "vertex", project: "p", region: "us-east5", credentials: file });
    assert.ok(fromFile.type === "vertex" && fromFile.credentials.kind === "service_account");
    assert.equal(fromFile.credentials.private_key, PEM);

    const express = provider({ type: "vertex", project: "p", region: "global", credentials: { api_key: "AQ.key" } });
    assert.deepEqual(express.type === "vertex" && express.credentials, { kind: "api_key", api_key: "AQ.key" });
  });

  it("explains a bad credential without echoing it", () => {
    const missing = problems({ type: "vertex", project: "p", region: "us-east5", credentials: "AIzaSECRETKEYVALUE" });
    assert.match(missing, /providers\.x\.credentials: .*no readable file by that name \(ENOENT\).*\{"api_key"/);
    assert.ok(!missing.includes("AIzaSECRETKEYVALUE"));
    const notSa = problems({ type: "vertex", project: "p", region: "us-east5", credentials: JSON.stringify({ ...SA, private_key: "nope" }) });
    assert.match(notSa, /not a service-account key: private_key/);
    assert.ok(!notSa.includes("sa@p"));
  });

  it("derives Vertex hosts from the region (global, us/eu multi-regions, regional)", () => {
    const at = (region: string, credentials: unknown = JSON.stringify(SA)) => vertexBaseUrl(provider({ type: "vertex", project: "p", region, credentials }) as never);
    assert.equal(at("us-east5"), "https://us-east5-aiplatform.googleapis.com");
    assert.equal(at("global"), "https://aiplatform.googleapis.com");
    assert.equal(at("eu"), "https://aiplatform.eu.rep.googleapis.com");
    assert.equal(at("us-east5", { api_key: "k" }), "https://aiplatform.googleapis.com");
  });

  it("takes static AWS keys, a Bedrock API key, or the default chain", () => {
    const chain = provider({ type: "bedrock", region: "us-east-1" });
    assert.deepEqual(chain.type === "bedrock" && chain.credentials, { kind: "chain" });
    assert.equal(bedrockRuntimeUrl(chain as never), "https://bedrock-runtime.us-east-1.amazonaws.com");
    assert.equal(bedrockControlUrl(chain as never), "https://bedrock.us-east-1.amazonaws.com");
    const keys = provider(
      { type: "bedrock", region: "eu-west-1", credentials: { access_key_id: "${AK}", secret_access_key: "${SK}", session_token: "${ST:-}" } },
      { AK: "AKIA1", SK: "secret" },
    );
    assert.deepEqual(keys.type === "bedrock" && keys.credentials, { kind: "static", access_key_id: "AKIA1", secret_access_key: "secret" });
    const apiKey = provider({ type: "bedrock", region: "us-west-2", credentials: { api_key: "ABSK-key" } });
    assert.deepEqual(apiKey.type === "bedrock" && apiKey.credentials, { kind: "api_key", api_key: "ABSK-key" });
    assert.match(problems({ type: "bedrock", region: "US East" }), /providers\.x\.region: expected a region/);
  });
});
