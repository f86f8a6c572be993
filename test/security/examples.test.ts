// Issue 11, hole 1: the shipped examples must not hand "(loopback)" the admin role on a gateway that serves a tailnet.
// Every example parses with the gateway's own config parser, and only `identity: local` (loopback only) may name it.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { parseConfigText } from "../../gateway/config/load.js";
import { listenProblem } from "../../gateway/identity/index.js";
import { parseListen } from "../../gateway/config/listen.js";

const dir = new URL("../../examples/", import.meta.url);
const examples = readdirSync(dir).filter((f) => f.endsWith(".jsonc"));

describe("examples", () => {
  it("there is a laptop example and a tailnet example", () => {
    assert.ok(examples.includes("keyless.jsonc") && examples.includes("tailnet.jsonc"), examples.join(", "));
  });

  for (const name of examples) {
    it(`${name}: valid, and "(loopback)" is granted only where identity is local and the gateway stays on loopback`, () => {
      const { config } = parseConfigText(readFileSync(new URL(name, dir), "utf8"), {});
      const loopbackGrants = config.grants.filter((g) => g.src.includes("(loopback)"));
      if (config.identity.type === "local") {
        assert.equal(listenProblem(config.identity, parseListen(config.listen).hostname), null, "identity local listens on loopback");
      } else {
        assert.deepEqual(loopbackGrants, [], `${name} grants (loopback) on a tailnet gateway`);
      }
    });
  }
});
