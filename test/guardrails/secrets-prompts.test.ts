// Secrets in what the agent writes and attaches, not only in tool results: user text, system text and attached
// documents (plain text and base64), through the real gateway with the official SDKs. The upstream's recorded body
// must hold the redaction marker where the secret was, and neither the body nor the store the secret.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { type Harness, sourceAgent, startHarness } from "../helpers/gateway.js";
import { chatStream } from "./responses.js";
import { checksummedToken, envFile, storeContents } from "./secret-values.js";

const ALICE = "127.0.0.2";
const CAP = "keyless.dev/cap/gateway";
const MODEL = "claude-sonnet-4-6";
const GITHUB = "[REDACTED secret.github-pat]";
const NPM = "[REDACTED secret.npm-access-token]";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

describe("secrets in prompts and attached documents", () => {
  let h: Harness;
  const previous = getGlobalDispatcher();
  const ids: string[] = [];
  before(async () => {
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" } },
      config: () => ({ grants: [{ src: ["alice@example.com"], app: { [CAP]: [{ role: "user", models: "**" }] } }] }),
    });
    setGlobalDispatcher(sourceAgent(ALICE));
  });
  after(async () => {
    setGlobalDispatcher(previous);
    await h.close();
  });

  const recording: typeof fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const res = await h.fetchFrom(ALICE)(input, init);
    ids.push(res.headers.get("x-keyless-request-id") ?? "");
    return res;
  }) as typeof fetch;
  const lastBody = () => h.upstream.requests.at(-1)?.body ?? "";
  const lastJson = () => JSON.parse(lastBody()) as Record<string, unknown>;
  /** Nothing forwarded or stored holds any of `secrets`, in plain or in the base64 of the file that carried them. */
  const assertGone = async (secrets: readonly string[], files: readonly string[] = []) => {
    const forwarded = lastBody();
    const stored = await storeContents(h, ids);
    for (const s of [...secrets, ...files.map(b64)]) {
      assert.ok(!forwarded.includes(s), "the provider never receives the secret");
      assert.ok(!stored.includes(s), "no row, capture or WAL page holds the secret");
    }
  };

  it("Anthropic: user text, system text, a text document and a base64 text document", async () => {
    const [user, system, doc, file] = [checksummedToken("ghp"), checksummedToken("ghp"), envFile(), envFile()];
    const client = new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: recording, maxRetries: 0 });
    await client.messages.create({
      model: MODEL,
      max_tokens: 100,
      system: [{ type: "text", text: `You deploy with GITHUB_TOKEN=${system}` }],
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: `use my token ${user} to open the PR` },
            { type: "document", source: { type: "text", media_type: "text/plain", data: doc.text }, title: ".env" },
            { type: "document", source: { type: "base64", media_type: "text/plain", data: b64(file.text) } as never, title: ".env.production" },
          ],
        },
      ],
    });
    const body = lastJson() as { system: { text: string }[]; messages: { content: { text?: string; source?: { data: string } }[] }[] };
    assert.equal(body.system[0]?.text, `You deploy with GITHUB_TOKEN=${GITHUB}`);
    const [text, plain, encoded] = body.messages[0]!.content;
    assert.equal(text?.text, `use my token ${GITHUB} to open the PR`);
    assert.match(plain?.source?.data ?? "", /GITHUB_TOKEN=\[REDACTED secret\.github-pat\]\nNPM_TOKEN=\[REDACTED secret\.npm-access-token\]/);
    const decoded = unb64(encoded?.source?.data ?? "");
    assert.ok(decoded.includes(`GITHUB_TOKEN=${GITHUB}`) && decoded.includes(`NPM_TOKEN=${NPM}`), decoded);
    assert.ok(decoded.includes("PORT=8080"), "the rest of the attached file is forwarded as it was");
    await assertGone([user, system, doc.github, doc.npm, file.github, file.npm], [file.text]);
  });

  it("OpenAI Responses: instructions, user input_text and an input_file given as a data: URL", async () => {
    const [instr, user, file] = [checksummedToken("ghp"), checksummedToken("ghp"), envFile()];
    const openai = new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: recording, maxRetries: 0 });
    await openai.responses.create({
      model: "gpt-5.5",
      instructions: `Push with ${instr}`,
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: `here is my token: ${user}` },
            { type: "input_file", filename: ".env", file_data: `data:text/plain;base64,${b64(file.text)}` },
          ],
        },
      ],
    });
    const body = lastJson() as { instructions: string; input: { content: { text?: string; file_data?: string }[] }[] };
    assert.equal(body.instructions, `Push with ${GITHUB}`);
    const [text, attached] = body.input[0]!.content;
    assert.equal(text?.text, `here is my token: ${GITHUB}`);
    const url = attached?.file_data ?? "";
    assert.ok(url.startsWith("data:text/plain;base64,"), "the attachment keeps its form");
    const decoded = unb64(url.slice("data:text/plain;base64,".length));
    assert.ok(decoded.includes(`GITHUB_TOKEN=${GITHUB}`) && decoded.includes(`NPM_TOKEN=${NPM}`), decoded);
    await assertGone([instr, user, file.github, file.npm], [file.text]);
  });

  it("OpenAI Chat Completions: system and user messages and a file content part", async () => {
    const [system, user, file] = [checksummedToken("ghp"), checksummedToken("ghp"), envFile()];
    const openai = new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: recording, maxRetries: 0 });
    h.upstream.once(/^\/v1\/chat\/completions$/, () => chatStream("gpt-4.1", [], "ok"));
    const stream = await openai.chat.completions.create({
      model: "gpt-4.1",
      stream: true,
      messages: [
        { role: "system", content: `Token for the registry: ${system}` },
        {
          role: "user",
          content: [
            { type: "text", text: `and mine is ${user}` },
            { type: "file", file: { filename: ".env", file_data: `data:text/plain;base64,${b64(file.text)}` } },
          ],
        },
      ],
    });
    for await (const _ of stream) void _;
    const body = lastJson() as { messages: { content: string | { text?: string; file?: { file_data: string } }[] }[] };
    assert.equal(body.messages[0]?.content, `Token for the registry: ${GITHUB}`);
    const parts = body.messages[1]?.content as { text?: string; file?: { file_data: string } }[];
    assert.equal(parts[0]?.text, `and mine is ${GITHUB}`);
    const decoded = unb64((parts[1]?.file?.file_data ?? "").replace(/^data:text\/plain;base64,/, ""));
    assert.ok(decoded.includes(`GITHUB_TOKEN=${GITHUB}`) && decoded.includes(`NPM_TOKEN=${NPM}`), decoded);
    await assertGone([system, user, file.github, file.npm], [file.text]);
  });

  it("Gemini: systemInstruction, user text and inlineData text/plain", async () => {
    const [system, user, file] = [checksummedToken("ghp"), checksummedToken("ghp"), envFile()];
    const gemini = new GoogleGenAI({ apiKey: "placeholder", httpOptions: { baseUrl: h.gateway.url } });
    await gemini.models.generateContent({
      model: "gemini-2.5-flash",
      config: { systemInstruction: `The deploy token is ${system}` },
      contents: [{ role: "user", parts: [{ text: `token: ${user}` }, { inlineData: { mimeType: "text/plain", data: b64(file.text) } }] }],
    });
    const body = lastJson() as { systemInstruction: { parts: { text: string }[] }; contents: { parts: { text?: string; inlineData?: { data: string } }[] }[] };
    assert.equal(body.systemInstruction.parts[0]?.text, `The deploy token is ${GITHUB}`);
    const [text, inline] = body.contents[0]!.parts;
    assert.equal(text?.text, `token: ${GITHUB}`);
    const decoded = unb64(inline?.inlineData?.data ?? "");
    assert.ok(decoded.includes(`GITHUB_TOKEN=${GITHUB}`) && decoded.includes(`NPM_TOKEN=${NPM}`), decoded);
    // Gemini's requests are not recorded under a request id of ours: the store is searched for every request so far.
    await assertGone([system, user, file.github, file.npm], [file.text]);
  });

  it("an attached image or PDF is forwarded byte for byte (never decoded as text)", async () => {
    const client = new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: recording, maxRetries: 0 });
    const pdf = Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.from([0, 1, 2, 255, 254]), Buffer.from(`GITHUB_TOKEN=${checksummedToken("ghp")}`)]).toString("base64");
    await client.messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: [{ role: "user", content: [{ type: "document", source: { type: "base64", media_type: "application/pdf", data: pdf } }, { type: "text", text: "summarise" }] }],
    });
    const body = lastJson() as { messages: { content: { source?: { data: string } }[] }[] };
    assert.equal(body.messages[0]?.content[0]?.source?.data, pdf);
  });
});
