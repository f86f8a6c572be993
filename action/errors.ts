// Failures the user can act on carry a full explanation; anything else is reported by message only, never a stack.

/** An error whose message is written for the workflow author and shown as-is. */
export class ActionError extends Error {
  override readonly name = "ActionError";
}

/** One line for the log: an ActionError's explanation, or the message of an unexpected error. */
export function describeError(err: unknown): string {
  if (err instanceof ActionError) return err.message;
  if (err instanceof Error) return `unexpected error: ${err.message}`;
  return `unexpected error: ${String(err)}`;
}

/** Replaces every occurrence of each secret in `text` with "***" (belt and braces on top of the runner's masking). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join("***");
  return out;
}
