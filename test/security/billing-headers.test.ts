// Issue 11, also noted: OpenAI-Organization and OpenAI-Project choose which organization and project the gateway's
// key bills. A caller must not pick them: the client's copies are dropped; the admin sets them with the provider's
// `headers`. The official OpenAI SDK sends both when given `organization` and `project`.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";

const CALLER = "127.0.0.2";

describe("OpenAI billing headers come from the config, never the caller", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [CALLER]: { login: "bob@example.com" } },
      config: (url) => ({
        providers: {
          openai: { type: "openai", baseurl: url, apikey: KEYS.openai, models: ["gpt-*"] },
          "openai-team": { type: "openai", baseurl: url, apikey: KEYS.openai, models: ["o*"], headers: ["OpenAI-Organization: org-admin-chosen", "OpenAI-Project: proj_admin"] },
        },
      }),
    });
  });
  after(() => h.close());

  const client = () =>
    new OpenAI({ apiKey: "placeholder", organization: "org-attacker", project: "proj_attacker", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(CALLER), maxRetries: 0 });

  it("drops the caller's OpenAI-Organization and OpenAI-Project", async () => {
    await client().chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] });
    const sent = h.upstream.requests.at(-1)!.headers;
    assert.equal(sent["openai-organization"], undefined);
    assert.equal(sent["openai-project"], undefined);
  });

  it("sends the ones configured on the provider instead", async () => {
    await client().chat.completions.create({ model: "o4-mini", messages: [{ role: "user", content: "hi" }] });
    const sent = h.upstream.requests.at(-1)!.headers;
    assert.equal(sent["openai-organization"], "org-admin-chosen");
    assert.equal(sent["openai-project"], "proj_admin");
  });
});
