import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SUMMARY_LIMIT, code, isFlagged, renderMarkdown, renderTitle, text } from "../../gateway/github/render.js";
import { report, session } from "./report-fixture.js";

describe("check run rendering", () => {
  it("titles with cost, tokens and requests", () => {
    assert.equal(renderTitle(report()), "$0.1235 · 45.5k tokens · 5 requests · 1 denied");
    const cheap = report();
    assert.equal(renderTitle({ ...cheap, totals: { ...cheap.totals, cost_nanos: 2_500_000_000, unpriced_requests: 1, denials: 0 } }), "$2.50+ · 45.5k tokens · 5 requests");
  });

  it("renders every section of the summary", () => {
    const md = renderMarkdown(report(), { detailsUrl: "https://ai.example.ts.net/sessions/ses_1" });
    assert.match(md, /\*\*acme\/api\*\* · PR #42 · run 9876543210 \(attempt 1\)/);
    assert.match(md, /\[Details\]\(https:\/\/ai\.example\.ts\.net\/sessions\/ses_1\)/);
    assert.match(md, /\| anthropic\/claude-opus-4-8 \| 4 \| 12,000 \| 30,000 \| 1,000 \| 2,500 \| \\\$0\.12345 \|/);
    assert.match(md, /\| quota \| bucket repo:acme-api exhausted \\\(\\\$5\.00\\\) \| 1 \|/);
    assert.match(md, /\| shell \| 3 \|/);
    // Newest first, blocked marked, backticks fenced.
    const cmds = md.slice(md.indexOf("### Shell commands"));
    assert.ok(cmds.indexOf("rm -rf ~/.ssh") < cmds.indexOf("npm test"));
    assert.match(cmds, /- `rm -rf ~\/\.ssh` \*\*blocked\*\*/);
    assert.match(cmds, /- ``grep -n '`foo`' src \| head``/);
    assert.match(md, /\| github \| `get_issue` \| 1 \|/);
    // Findings by severity, high first, with the command; pipes escaped inside table cells.
    assert.match(md, /1 high, 1 low\./);
    assert.ok(md.indexOf("fs.delete-home") < md.indexOf("net.curl"));
    assert.match(md, /\| high \| fs.delete-home \| block \| `rm -rf ~\/\.ssh` \|/);
    assert.match(md, /\| repo:acme-api \| \\\$0\.12345 \| \\\$4\.87655 \|/);
    assert.match(md, /### PR #42 so far\n\n3 sessions, 20 requests, 59,000 tokens, \\\$1\.50\./);
  });

  it("leaves out the PR total for a PR's only session, and PR lines outside PRs", () => {
    const single = renderMarkdown(report({ pr: { sessions: 1, requests: 5, input_tokens: 1, output_tokens: 1, cost_nanos: 1 } }), { detailsUrl: null });
    assert.doesNotMatch(single, /so far/);
    const push = renderMarkdown(report({ session: session({ pr_number: null, event: "push" }), pr: null }), { detailsUrl: null });
    assert.doesNotMatch(push, /PR #/);
    assert.doesNotMatch(push, /\[Details\]/);
  });

  it("escapes Markdown and HTML in text and code", () => {
    assert.equal(text("<img src=x onerror=alert(1)> *bold* | [l](u)"), "\\<img src=x onerror=alert\\(1\\)\\> \\*bold\\* \\| \\[l\\]\\(u\\)");
    assert.equal(text("costs $1 and $2"), "costs \\$1 and \\$2");
    assert.equal(code("echo `id`"), "`` echo `id` ``");
    assert.equal(code("a\nb"), "`a ⏎ b`");
    assert.equal(code("`x`"), "`` `x` ``");
    assert.equal(code("a|b", true), "`a\\|b`");
  });

  it("truncates long commands and counts what was left out", () => {
    const long = "x".repeat(1000);
    const md = renderMarkdown(report({ commands: [{ at: "t", command: long, blocked: false }], commands_omitted: 7 }), { detailsUrl: null });
    assert.match(md, /x{300}… \(700 more chars\)`/);
    assert.match(md, /- … and 7 more not shown/);
  });

  it("stays within GitHub's 65535-character limit with thousands of commands", () => {
    const commands = Array.from({ length: 5000 }, (_, i) => ({ at: "t", command: `echo ${"y".repeat(100)} ${i}`, blocked: false }));
    const md = renderMarkdown(report({ commands, commands_omitted: 100 }), { detailsUrl: null });
    assert.ok(md.length <= SUMMARY_LIMIT, `length ${md.length}`);
    assert.ok(md.length > SUMMARY_LIMIT - 2000, "uses the room it has");
    const shown = (md.match(/^- `echo/gm) ?? []).length;
    assert.match(md, new RegExp(`- … and ${(5000 - shown + 100).toLocaleString("en-US")} more not shown`));
    assert.match(md, /### Guardrail findings/, "sections after the commands survive");
    assert.match(md, /echo y+ 0`/, "newest (first) commands are the ones kept");
    assert.doesNotMatch(md, /echo y+ 4999`/);
  });

  it("cuts at a line boundary when the fixed sections alone are too long", () => {
    const problems = Array.from({ length: 40 }, (_, i) => ({ kind: "error" as const, reason: `r${i} ${"z".repeat(400)}`, count: 1 }));
    const md = renderMarkdown(report({ problems }), { detailsUrl: null, limit: 4000 });
    assert.ok(md.length <= 4000);
    assert.match(md, /summary cut at GitHub's size limit\.\n$/);
  });

  it("flags blocked commands and high findings", () => {
    assert.equal(isFlagged(report()), true);
    assert.equal(isFlagged(report({ findings: [], commands: [], problems: [] })), false);
    assert.equal(isFlagged(report({ findings: [{ at: "t", severity: "critical", rule: "r", action: "log", command: "c" }], commands: [] })), true);
  });
});
