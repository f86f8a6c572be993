// Query-string parameters shared by keyless's list endpoints.
import { z } from "zod";

/** An ISO time or epoch milliseconds, as epoch milliseconds. */
export const TimeParam = z
  .string()
  .transform((s, ctx) => {
    const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: "custom", message: `expected an ISO time or epoch milliseconds, got "${s}"` });
      return z.NEVER;
    }
    return ms;
  })
  .optional();
