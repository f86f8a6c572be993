// What the Action sends about the PR for each kind of event.
import assert from "node:assert/strict";
import { test } from "node:test";
import { forkOf, pullRequestOf } from "../../action/context.js";

const SHA = "a".repeat(40);

test("PR number and head sha per event", () => {
  const pr = { pull_request: { number: 5, head: { sha: SHA } } };
  assert.deepEqual(pullRequestOf({ eventName: "pull_request", payload: pr }), { head_sha: SHA });
  assert.deepEqual(pullRequestOf({ eventName: "pull_request_target", payload: pr }), { pr_number: 5, head_sha: SHA });
  assert.deepEqual(pullRequestOf({ eventName: "pull_request_review", payload: pr }), { pr_number: 5, head_sha: SHA });
  assert.deepEqual(pullRequestOf({ eventName: "issue_comment", payload: { issue: { number: 9, pull_request: {} } } }), { pr_number: 9 });
  assert.deepEqual(pullRequestOf({ eventName: "issue_comment", payload: { issue: { number: 9 } } }), {}, "a comment on an issue is no PR");
  assert.deepEqual(
    pullRequestOf({ eventName: "workflow_run", payload: { workflow_run: { head_sha: SHA, pull_requests: [{ number: 3 }] } } }),
    { pr_number: 3, head_sha: SHA },
  );
  assert.deepEqual(pullRequestOf({ eventName: "push", payload: {} }), {});
  assert.deepEqual(pullRequestOf({ eventName: "pull_request_target", payload: { pull_request: { number: 5, head: { sha: "main" } } } }), { pr_number: 5 });
});

test("a pull request from another repository is a fork", () => {
  const payload = { pull_request: { number: 1, head: { sha: SHA, repo: { full_name: "mallory/api" } } } };
  assert.equal(forkOf({ repository: "acme/api", payload }), "mallory/api");
  assert.equal(forkOf({ repository: "mallory/api", payload }), null);
  assert.equal(forkOf({ repository: "acme/api", payload: {} }), null);
});
