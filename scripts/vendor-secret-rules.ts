// Turns the vendored gitleaks.toml into the JSON the gateway loads (gateway/guardrails/secrets/README.md says how to
// update it). Run: npx tsx scripts/vendor-secret-rules.ts
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "smol-toml";

const dir = new URL("../gateway/guardrails/secrets/", import.meta.url);
const parsed = parse(readFileSync(new URL("gitleaks.toml", dir), "utf8"));
writeFileSync(new URL("gitleaks.json", dir), `${JSON.stringify(parsed, null, 1)}\n`);
