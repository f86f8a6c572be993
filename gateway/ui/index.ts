// The read-only web UI at /ui/: server-rendered HTML for people on the tailnet, no client-side JavaScript. Admins see
// everything; users only rows whose principal is theirs; callers without a role get a 403 page.
import type { Context, Hono } from "hono";
import type { GatewayModule } from "../app.js";
import { callerAccess } from "../api/auth.js";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "../env.js";
import type { Identity } from "../identity/types.js";
import type { Access } from "../policy/grants.js";
import type { SessionRef } from "../proxy/exchange.js";
import type { BucketStore } from "../quotas/bucket-store.js";
import type { Store } from "../store/db.js";
import type { RequestLog } from "../store/requests.js";
import { dashboardPage } from "./dashboard.js";
import { type Page, UI_HEADERS, type Viewer, errorPage, layout } from "./layout.js";
import { requestPage, requestsPage } from "./requests.js";
import { sessionsPage } from "./sessions.js";
import { toolCallsPage } from "./tool-calls.js";

export interface UiDeps {
  readonly getConfig: () => Config;
  readonly store: Store;
  readonly log: RequestLog;
  readonly buckets: BucketStore;
  readonly sessionFor: (identity: Identity) => SessionRef | null;
}

type Render = (c: Context<GatewayEnv>, viewer: Viewer, access: Access) => Page | Promise<Page>;

export function createUiModule(deps: UiDeps): GatewayModule {
  const send = (c: Context<GatewayEnv>, page: Page, viewer: Viewer | null, current: string) =>
    c.html(layout(page, viewer, current), page.status ?? 200, UI_HEADERS);

  const route = (app: Hono<GatewayEnv>, path: string, nav: string, render: Render) =>
    app.get(path, async (c) => {
      const access = callerAccess(c, deps.getConfig());
      if (access.role === null) return send(c, errorPage(403, "Access denied", "access denied: no role granted"), null, nav);
      const viewer: Viewer = { admin: access.role === "admin", principal: c.var.identity.principal };
      return send(c, await render(c, viewer, access), viewer, nav);
    });

  return {
    name: "ui",
    mount(app) {
      app.get("/ui", (c) => c.redirect("/ui/", 301));
      route(app, "/ui/", "/ui/", (c, viewer, access) => dashboardPage(deps, access, c.var.identity, viewer));
      route(app, "/ui/requests", "/ui/requests", (c, viewer) => requestsPage(deps.log, c.req.query(), viewer));
      route(app, "/ui/requests/:id", "/ui/requests", (c, viewer) => requestPage(deps.log, deps.store, deps.getConfig(), c.req.param("id") ?? "", viewer));
      route(app, "/ui/tool-calls", "/ui/tool-calls", (c, viewer) => toolCallsPage(deps.store, c.req.query(), viewer));
      route(app, "/ui/sessions", "/ui/sessions", (_c, viewer) => sessionsPage(deps.store, viewer));
      route(app, "/ui/*", "", () => errorPage(404, "Not found", "There is no such page."));
    },
  };
}
