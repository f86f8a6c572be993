// Version 5: each config change keeps the text it applied, so the policy editor can show and restore that version.
// Null for rows recorded before, and for texts holding literal credentials (the store never keeps a secret).
import type { Kysely, Migration } from "kysely";

export function configAuditText(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("config_audit").addColumn("text", "text").execute();
    },
  };
}
