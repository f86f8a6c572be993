// Errors raised before a route is known (foreign host, identity, body limit, no such route) are answered in the shape
// of the dialect whose paths the request came to, as each dialect declares them (dialects/index.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errorForPath } from "../../gateway/dialects/index.js";

const denied = { kind: "permission", status: 403, message: "access denied: no grant" } as const;

describe("errors before a route is known", () => {
  it("Anthropic's paths: Anthropic's error envelope", async () => {
    const res = errorForPath("/v1/messages", denied);
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { type: "error", error: { type: "permission_error", message: denied.message } });
  });

  it("Google AI's and Vertex AI's paths (Claude on Vertex too): Google's error shape", async () => {
    for (const path of ["/v1beta/models/gemini-2.5-flash:generateContent", "/v1/projects/p/locations/l/publishers/google/models/m:generateContent", "/v1/projects/p/locations/l/publishers/anthropic/models/m:rawPredict"]) {
      const body = (await errorForPath(path, denied).json()) as { error: { code: number; message: string; status: string } };
      assert.equal(body.error.code, 403, path);
      assert.equal(body.error.status, "PERMISSION_DENIED", path);
      assert.equal(body.error.message, denied.message, path);
    }
  });

  it("Bedrock's runtime (under /bedrock and at the root) and control plane: AWS's error type header and {message}", async () => {
    for (const path of ["/bedrock/model/m/invoke", "/model/m/converse", "/inference-profiles"]) {
      const res = errorForPath(path, denied);
      assert.equal(res.headers.get("x-amzn-errortype"), "AccessDeniedException", path);
      assert.deepEqual(await res.json(), { message: denied.message }, path);
    }
  });

  it("OpenAI's paths and keyless's own: the envelope both OpenAI's and Anthropic's SDKs read", async () => {
    for (const path of ["/v1/chat/completions", "/v1/responses", "/api/requests"]) {
      assert.deepEqual(await errorForPath(path, denied).json(), { type: "error", error: { type: "permission_error", message: denied.message, code: null } }, path);
    }
    const missing = errorForPath("/v1/nothing", { kind: "not_found", status: 404, message: "no route" });
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { type: "error", error: { type: "not_found_error", message: "no route", code: null } });
  });
});
