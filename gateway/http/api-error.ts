// keyless's own JSON API answers errors as {"error": {"code", "message"}} (src/ci-session.ts ApiError).
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import type { ApiError } from "../../src/ci-session.js";

export function apiError(c: Context, status: ContentfulStatusCode, code: string, message: string): Response {
  const body: ApiError = { error: { code, message } };
  return c.json(body, status);
}

export function zodMessage(error: ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; ");
}
