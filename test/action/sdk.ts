// Runs an official SDK in a fresh process whose environment is only what the Action exported (plus PATH/HOME), as a
// later workflow step would. The script prints one JSON line per observation.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const ANTHROPIC_STREAM = `
import Anthropic from "@anthropic-ai/sdk";
const client = new Anthropic();
const t0 = Date.now();
const stream = client.messages.stream({ model: "claude-test", max_tokens: 32, messages: [{ role: "user", content: "hi" }] });
stream.on("text", (text) => console.log(JSON.stringify({ text, at: Date.now() - t0 })));
const message = await stream.finalMessage();
console.log(JSON.stringify({ done: message.content[0].text, at: Date.now() - t0 }));
`;

export const OPENAI_CHAT = `
import OpenAI from "openai";
const client = new OpenAI();
const r = await client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
console.log(JSON.stringify({ done: r.choices[0].message.content }));
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
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { code, lines, stderr };
}
