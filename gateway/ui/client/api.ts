// Calls to the gateway's own API from the UI. State-changing calls carry the page's CSRF token (double-submitted: the
// same value is in a SameSite=Strict cookie the server compares it with), which a page on another site cannot read.
import type { z } from "zod";

const token = (): string => document.querySelector<HTMLMetaElement>('meta[name="keyless-csrf"]')?.content ?? "";

export interface ApiError {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly body: unknown;
}

export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

/** Calls the API and checks the answer against `schema` (the server's own shape, shared through src/ or gateway/). */
export async function api<T>(schema: z.ZodType<T>, method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-keyless-csrf"] = token();
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, { method, headers, credentials: "same-origin", ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const parsed: unknown = await res.json().catch(() => null);
  if (res.ok) {
    const value = schema.safeParse(parsed);
    if (value.success) return { ok: true, value: value.data };
    return { ok: false, error: { status: res.status, code: "unexpected_answer", message: `the gateway answered ${path} in an unexpected shape: ${value.error.message}`, body: parsed } };
  }
  const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
  return { ok: false, error: { status: res.status, code: error?.code ?? "http_error", message: error?.message ?? res.statusText, body: parsed } };
}
