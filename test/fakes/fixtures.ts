// Byte-exact provider responses captured from real clients' sessions (shared/reference/captures/fixtures).
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CAPTURES = fileURLToPath(new URL("../../../shared/reference/captures/", import.meta.url));

export function capture(path: string): string {
  const full = CAPTURES + path;
  if (!existsSync(full)) throw new Error(`capture ${full} is missing: tests need ../shared/reference/captures beside the repository`);
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
