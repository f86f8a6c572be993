// Byte-exact provider responses captured from real clients' sessions (test/fixtures/captures; provenance in its README.md).
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CAPTURES = fileURLToPath(new URL("../fixtures/captures/", import.meta.url));

export function capture(path: string): string {
  const full = CAPTURES + path;
  if (!existsSync(full)) throw new Error(`capture ${full} is missing: the repository's test/fixtures/captures is incomplete`);
  return readFileSync(full, "utf8");
}

export function captureBytes(path: string): Buffer {
  return readFileSync(CAPTURES + path);
}

export function captureJson<T = unknown>(path: string): T {
  return JSON.parse(capture(path)) as T;
}

/** Replaces the stub model name the fixtures carry with the one the request named. */
export function withModel(text: string, fixtureModel: string, model: string): string {
  return text.replaceAll(`"model":"${fixtureModel}"`, `"model":"${model}"`).replaceAll(`"modelVersion":"${fixtureModel}"`, `"modelVersion":"${model}"`);
}
