// The UI's script and stylesheet, built into assets.generated.ts (scripts/build-ui.ts) and served from memory. Names
// carry a content hash, so a browser keeps each version for a year and a new gateway version is fetched at once.
import type { Hono } from "hono";
import type { GatewayEnv } from "../http/env.js";
import { UI_ASSETS } from "./assets.generated.js";

export const SCRIPT_URL = `/ui/assets/${UI_ASSETS.script.name}`;
export const STYLE_URL = `/ui/assets/${UI_ASSETS.style.name}`;

const byName = new Map<string, { type: string; body: string }>(Object.values(UI_ASSETS).map((a) => [a.name, a]));

export function mountAssets(app: Hono<GatewayEnv>): void {
  app.get("/ui/assets/:name", (c) => {
    const asset = byName.get(c.req.param("name"));
    if (!asset) return c.text("no such asset (the page may be from another gateway version: reload it)", 404, { "cache-control": "no-store" });
    return c.body(asset.body, 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
    });
  });
}
