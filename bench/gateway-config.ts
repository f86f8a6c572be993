// The gateway config every benchmark runs: identity tailscale, grants, a budget, a route, SQLite logging.
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface BenchUpstreams {
  readonly upstreamUrl: string;
  readonly slowUrl: string;
  readonly tailscaledSocket: string;
}

/** Writes `<dir>/<name>.json` and returns its path. */
export function writeBenchConfig(dir: string, name: string, { upstreamUrl, slowUrl, tailscaledSocket }: BenchUpstreams): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify({
    // WhoIs per new connection, over the fake LocalAPI's unix socket; every request is then checked against grants.
    identity: { type: "tailscale", socket: tailscaledSocket },
    providers: {
      anthropic: { type: "anthropic", baseurl: upstreamUrl, apikey: "sk-bench", models: ["claude-sonnet-*"] },
      slow: { type: "anthropic", baseurl: slowUrl, apikey: "sk-bench", models: ["claude-haiku-*"] },
    },
    // Every request reserves against a budget and settles its cost.
    quotas: { "bench:<node>": { capacity: "$1000000.00", rate: "$1000000.00/day" } },
    // A model with a fallback target, whose first target answers: what routing costs when nothing fails.
    routes: { "claude-opus-4-6": [{ provider: "anthropic" }, { provider: "slow" }] },
    grants: [{ src: ["tag:ci"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**", quotas: [{ bucket: "bench:<node>" }] }] } }],
    database: { path: join(dir, `${name}.db`) },
  }));
  return path;
}
