#!/usr/bin/env node
// keyless serve | config check | policy — the gateway's command line.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_CONFIG_TEXT } from "./config/defaults.js";
import { configGrants } from "./access/grants.js";
import { importAperture } from "./config/import-aperture.js";
import { ConfigError, type LoadedConfig, loadConfigFile, parseConfigText } from "./config/load.js";
import { POLICY_USAGE, runPolicyCommand } from "./commands/policy.js";
import { describePostgresUrl } from "./config/quota-store.js";
import { formatResults, runDoctor } from "./doctor/checks.js";
import { startGateway } from "./server.js";
import { DB_USAGE, runDbCommand } from "./store/command.js";
import { packageVersion } from "./version.js";

const USAGE = `usage:
  keyless serve [--config FILE] [--listen HOST:PORT]   (without --config: loopback-only defaults, keys from the environment)
  keyless config check FILE
  keyless config import-aperture FILE   (prints the keyless config equivalent to an Aperture config, every change commented)
  keyless doctor [--config FILE] [--listen HOST:PORT]   (checks tailscaled, the tailnet address, providers, GitHub, PostgreSQL)
${POLICY_USAGE}
${DB_USAGE}
  keyless --version`;

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

function warn(loaded: LoadedConfig): void {
  for (const warning of loaded.warnings) process.stderr.write(`keyless: config warning: ${warning}\n`);
}

function loadOrExit(path: string) {
  try {
    const loaded = loadConfigFile(path);
    warn(loaded);
    return loaded;
  } catch (err) {
    if (err instanceof ConfigError) fail(`keyless: invalid config ${path}:\n${err.problems.map((p) => `  ${p}`).join("\n")}`, 1);
    throw err;
  }
}

async function serveCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" }, listen: { type: "string", short: "l" } } });
  const loaded = values.config ? loadOrExit(values.config) : parseConfigText(DEFAULT_CONFIG_TEXT);
  const gateway = await startGateway({ loaded, listen: values.listen, configPath: values.config });
  const source = values.config ?? "embedded defaults";
  const qs = loaded.config.quota_store;
  const budgets = qs.type === "postgres" ? `postgres ${describePostgresUrl(qs.url)}` : "in the store";
  process.stderr.write(
    `keyless ${packageVersion()} serving on ${gateway.url} (config: ${source}, identity: ${loaded.config.identity.type}, store: ${gateway.store.where}, budgets: ${budgets})\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`keyless: ${signal}: draining in-flight requests\n`);
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`keyless: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  // The gateway logs the outcome; an invalid file leaves the running config in place.
  process.on("SIGHUP", () => gateway.reloadConfig());
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

async function doctorCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { config: { type: "string", short: "c" }, listen: { type: "string", short: "l" } } });
  const { config } = values.config ? loadOrExit(values.config) : parseConfigText(DEFAULT_CONFIG_TEXT);
  const results = await runDoctor({ config, listen: values.listen ?? config.listen });
  process.stdout.write(`${formatResults(results)}\n`);
  if (results.some((r) => r.status === "fail")) process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      return serveCommand(rest);
    case "doctor":
      return doctorCommand(rest);
    case "config": {
      const [sub, file] = rest;
      if ((sub !== "check" && sub !== "import-aperture") || !file) fail(USAGE);
      if (sub === "import-aperture") {
        let source: string;
        try {
          source = readFileSync(file, "utf8");
        } catch (err) {
          fail(`keyless: ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err)}`, 1);
        }
        try {
          process.stdout.write(importAperture(source));
        } catch (err) {
          if (err instanceof ConfigError) fail(`keyless: ${file} is not readable as a config:\n${err.problems.map((p) => `  ${p}`).join("\n")}`, 1);
          throw err;
        }
        return;
      }
      const loaded = loadOrExit(file);
      process.stdout.write(`${file}: ok (${Object.keys(loaded.config.providers).length} providers, ${configGrants(loaded.config).length} grants)\n`);
      return;
    }
    case "db": {
      const code = await runDbCommand(rest, {
        out: (t) => process.stdout.write(t),
        err: (t) => process.stderr.write(t),
        database: (path) => (path ? loadOrExit(path) : parseConfigText(DEFAULT_CONFIG_TEXT)).config.database,
      });
      if (code !== 0) process.exit(code);
      return;
    }
    case "policy": {
      const io = { env: process.env, out: (t: string) => process.stdout.write(t), err: (t: string) => process.stderr.write(t) };
      const code = runPolicyCommand(rest, io);
      if (code !== 0) process.exit(code);
      return;
    }
    case "--version":
    case "-v":
      process.stdout.write(`${packageVersion()}\n`);
      return;
    default:
      fail(USAGE);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`keyless: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
