// action.yml and workflow files read by the tools that read them for real: the `yaml` package (YAML 1.2), GitHub's own
// parser and schemas (@actions/workflow-parser, what github.com and the VS Code extension use), SchemaStore's schemas
// (@action-validator/core), and PyYAML when python3 has it.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { validateAction, validateWorkflow } from "@action-validator/core";
import { NoOperationTraceWriter, parseWorkflow } from "@actions/workflow-parser";
import { parseAction } from "@actions/workflow-parser/actions/index";
import YAML from "yaml";
import { z } from "zod";

export const ACTION_YML = new URL("../../action.yml", import.meta.url);

const Input = z.strictObject({
  description: z.string().min(1),
  required: z.boolean(),
  // Strings only: the runner hands inputs over as strings, and a YAML 1.1 parser would read `true` or `08` otherwise.
  default: z.string().optional(),
});
const Output = z.strictObject({ description: z.string().min(1) });

/** The shape keyless's action.yml must have (a node action with main and post). */
export const ActionYml = z.strictObject({
  name: z.string().min(1),
  description: z.string().min(1),
  author: z.string().optional(),
  branding: z.strictObject({ icon: z.string(), color: z.string() }),
  inputs: z.record(z.string(), Input),
  outputs: z.record(z.string(), Output),
  runs: z.strictObject({ using: z.string(), main: z.string(), post: z.string() }),
});
export type ActionYml = z.infer<typeof ActionYml>;

/** Parses YAML text strictly (duplicate keys, bad indentation and stray `: ` are errors), as the runner would. */
export function parseYaml(text: string, name: string): unknown {
  const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors.map((e) => e.message).join("\n")}`);
  return doc.toJS();
}

export function readActionYml(): ActionYml {
  return ActionYml.parse(parseYaml(readFileSync(ACTION_YML, "utf8"), "action.yml"));
}

/** PyYAML's reading of a file as JSON, or null when python3 has no yaml module here. */
export function pyYamlLoad(path: string): unknown {
  const probe = spawnSync("python3", ["-c", "import yaml"], { timeout: 10_000 });
  if (probe.status !== 0) return null;
  const r = spawnSync("python3", ["-c", "import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", path], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (r.status !== 0) throw new Error(`PyYAML refused ${path}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`);
  return JSON.parse(r.stdout) as unknown;
}

const trace = new NoOperationTraceWriter();

/** GitHub's parser and action schema; returns its error messages. */
export function githubActionErrors(text: string): string[] {
  return parseAction({ name: "action.yml", content: text }, trace).context.errors.getErrors().map((e) => e.message);
}

/** GitHub's parser and workflow schema; returns its error messages. */
export function githubWorkflowErrors(text: string, name: string): string[] {
  return parseWorkflow({ name, content: text }, trace).context.errors.getErrors().map((e) => e.message);
}

type ValidationError = ReturnType<typeof validateWorkflow>["errors"][number];
const describe = (e: ValidationError) => `${"path" in e ? `${e.path}: ` : ""}${e.title}${e.detail ? ` (${e.detail})` : ""}`;

/** SchemaStore's github-workflow schema; returns its errors. */
export function schemaStoreWorkflowErrors(text: string): string[] {
  return validateWorkflow(text).errors.map(describe);
}

/** SchemaStore's github-action schema; returns its errors. */
export function schemaStoreActionErrors(text: string): string[] {
  return validateAction(text).errors.map(describe);
}
