// Runs an official SDK in a fresh process whose environment is only what the Action exported (plus PATH/HOME), as a
// later workflow step would. The script prints one JSON line per observation.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const ANTHROPIC_STREAM = `
import Anthropic from "@anthropic-ai/sdk";
const client = new Anthropic({ maxRetries: 0 });
const t0 = Date.now();
const stream = client.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
stream.on("streamEvent", (e) => console.log(JSON.stringify({ event: e.type, at: Date.now() - t0 })));
const message = await stream.finalMessage();
console.log(JSON.stringify({ done: message.content.map((b) => b.text ?? b.name).join(""), at: Date.now() - t0 }));
`;

export const OPENAI_CHAT = `
import OpenAI from "openai";
const client = new OpenAI({ maxRetries: 0 });
const r = await client.chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "hi" }] });
console.log(JSON.stringify({ done: r.choices[0].message.content ?? "", model: r.model }));
`;

export async function runSdk(script: string, exported: Record<string, string>, home: string): Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: root,
    env: { ...exported, PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  const lines = out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, stderr };
}
