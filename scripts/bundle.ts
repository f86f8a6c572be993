// Bundles the Action into dist/ (committed; scripts/check-dist.sh keeps it honest). Deterministic: fixed inputs, no
// timestamps, no absolute paths, so the same sources and lockfile always give the same bytes.
import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

export const ENTRY_POINTS = { main: "action/index.ts", post: "action/post-index.ts", proxy: "action/proxy-index.ts" };

export async function bundleAction(outdir = "dist"): Promise<void> {
  // Start empty so a chunk that is no longer produced disappears (and shows in check-dist's diff).
  rmSync(resolve(root, outdir), { recursive: true, force: true });
  await build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    outdir,
    bundle: true,
    // main and post share most of their code; one shared chunk instead of two copies.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "node",
    format: "esm",
    // The runner uses node24; node20 keeps the bundle runnable on the Node this repo develops with.
    target: "node20",
    // CommonJS dependencies (undici, tunnel, semver) call require(); give the ESM bundle one.
    banner: { js: 'import { createRequire as __keylessCreateRequire } from "node:module";\nconst require = __keylessCreateRequire(import.meta.url);' },
    legalComments: "eof",
    charset: "utf8",
    logLevel: "warning",
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundleAction(process.argv[2]);
}
