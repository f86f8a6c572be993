// The gateway the Action talks to in these tests: the real keyless gateway (test/helpers/gateway.ts harness, with its
// fake tailscaled, fake provider upstream) plus a fake GitHub for PR verification. The Action's connections come from
// 127.0.0.1, which the fake tailscaled knows as a CI runner node tagged for acme/api.
import { SessionSummary } from "../../src/ci-session.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, type ActionsEvent, type Claims, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { appKeyPair } from "../github/app-key.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

export const RUNNER_NODE = "nKEYLESSRUNNER";
const RUNNER_IP = "127.0.0.1";
const ADMIN_IP = "127.0.0.2";

export interface TestGateway {
  readonly url: string;
  readonly harness: Harness;
  readonly github: FakeGitHub;
  /** The session as the gateway reports it to an admin (GET /api/sessions/:id). */
  summary(id: string): Promise<SessionSummary>;
  /** Rows of the gateway's request log attributed to a session. */
  requests(sessionId: string): ReturnType<Harness["gateway"]["requestLog"]["list"]>;
  close(): Promise<void>;
}

/** `onTailnet: false` leaves 127.0.0.1 unknown to tailscaled: the Action is then a runner off the tailnet. */
export async function startGateway(opts: { issuer: FakeOidcIssuer; onTailnet?: boolean }): Promise<TestGateway> {
  const keys = appKeyPair();
  const github = await startFakeGitHub({
    appId: "123",
    publicKeyPem: keys.publicKey,
    repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }, { number: 7, headSha: HEAD_SHA }] }],
  });
  const harness = await startHarness({
    peers: {
      ...(opts.onTailnet === false ? {} : { [RUNNER_IP]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: RUNNER_NODE, name: "ci-api-9876543210-1.tail1234.ts.net." } }),
      [ADMIN_IP]: { login: "alice@example.com", nodeId: "nALICE" },
    },
    config: () => ({
      grants: [
        { src: ["tag:ci-acme-api"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } },
        { src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } },
      ],
      github: {
        oidc: { issuer: opts.issuer.issuer, audience: "keyless" },
        api_url: github.url,
        app: { id: "123", private_key: keys.privateKey },
        checks: { update_interval: "100ms" },
        repos: { "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678", session_tokens: true } },
      },
    }),
  });
  const admin = harness.fetchFrom(ADMIN_IP);
  const url = harness.gateway.url;
  return {
    url,
    harness,
    github,
    async summary(id) {
      const res = await admin(`${url}/api/sessions/${id}`);
      if (!res.ok) throw new Error(`GET /api/sessions/${id}: ${res.status} ${await res.text()}`);
      return SessionSummary.parse(await res.json());
    },
    async requests(sessionId) {
      await harness.gateway.requestLog.flush();
      return harness.gateway.requestLog.list({ session: sessionId, limit: 100 });
    },
    async close() {
      await harness.close();
      await github.close();
    },
  };
}

/** Claims of one event for a run of its own: the gateway resumes an open session of the same node, repo and run. */
export function runClaims(event: ActionsEvent, over: Claims = {}): Claims {
  return { ...eventClaims(event), run_id: String(Math.floor(Math.random() * 1e10)), ...over };
}
