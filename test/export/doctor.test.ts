// `keyless doctor` with telemetry and an export configured: the collector's port answers, and the exporter may write
// into its bucket (a real S3-compatible server on loopback); each fails with its fix when it does not.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseConfigText } from "../../gateway/config/load.js";
import { runDoctor } from "../../gateway/doctor/checks.js";
import { type OtlpReceiver, startOtlpReceiver } from "../helpers/otlp-receiver.js";
import { S3_CREDENTIALS, type TestS3, startTestS3 } from "../helpers/s3-server.js";

describe("keyless doctor: telemetry and export", () => {
  let s3: TestS3;
  let collector: OtlpReceiver;
  before(async () => {
    s3 = await startTestS3();
    collector = await startOtlpReceiver();
  });
  after(async () => {
    await s3.close();
    await collector.close();
  });

  const doctor = async (bucket: string, endpoint: string) => {
    const config = parseConfigText(
      JSON.stringify({
        telemetry: { otlp: { endpoint } },
        export: { s3: { bucket, prefix: "k/", endpoint: s3.endpoint, force_path_style: true, ...S3_CREDENTIALS } },
      }),
      {},
    ).config;
    const results = await runDoctor({ config, listen: "127.0.0.1:1", timeoutMs: 5000 });
    return Object.fromEntries(results.filter((r) => r.name === "export" || r.name === "telemetry").map((r) => [r.name, r]));
  };

  it("says ok when the collector answers and the bucket takes an object", async () => {
    const r = await doctor(s3.bucket, collector.url);
    assert.equal(r.telemetry?.status, "ok", r.telemetry?.detail);
    assert.equal(r.export?.status, "ok", r.export?.detail);
    assert.deepEqual((await s3.objects("k/")).get("k/.keyless-doctor"), [], "the probe: an empty gzip JSON Lines object");
  });

  it("fails with the fix when the bucket does not exist or nothing listens", async () => {
    const r = await doctor("no-such-bucket", "http://127.0.0.1:1");
    assert.equal(r.telemetry?.status, "fail");
    assert.match(r.telemetry?.fix ?? "", /telemetry\.otlp\.endpoint/);
    assert.equal(r.export?.status, "fail");
    assert.match(r.export?.detail ?? "", /s3:\/\/no-such-bucket\/k\//);
    assert.match(r.export?.fix ?? "", /PutObject/);
    assert.ok(!JSON.stringify(r).includes(S3_CREDENTIALS.secret_access_key), "no credential in the report");
  });
});
