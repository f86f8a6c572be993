// The web UI at /ui/: server-rendered HTML for people on the tailnet, enhanced by one script from the gateway's origin. Admins see
// everything; users only rows whose principal is theirs; callers without a role get a 403 page.
import type { Context, Hono } from "hono";
import type { GatewayModule } from "../proxy/feature.js";
import type { GatewayEnv } from "../http/env.js";
import { csrfToken } from "../http/csrf.js";
import { mountAssets } from "./assets.js";
import { dashboardPage } from "./dashboard.js";
import type { UiDeps } from "./deps.js";
import { type Page, UI_HEADERS, type Viewer, errorPage, layout } from "./layout.js";
import { requestPage, requestsPage } from "./requests.js";
import { sessionsPage } from "./sessions.js";
import { toolCallsPage } from "./tool-calls.js";

type Render = (c: Context<GatewayEnv>, viewer: Viewer) => Page | Promise<Page>;

export function createUiModule(deps: UiDeps): GatewayModule {
  const send = (c: Context<GatewayEnv>, page: Page, viewer: Viewer | null, current: string) =>
    c.html(layout(page, viewer, current, csrfToken(c)), page.status ?? 200, UI_HEADERS);

  const route = (app: Hono<GatewayEnv>, path: string, nav: string, render: Render) =>
    app.get(path, async (c) => {
      const { role } = c.var.caller;
      if (role === null) return send(c, errorPage(403, "Access denied", "access denied: no role granted"), null, nav);
      const viewer: Viewer = { admin: role === "admin", principal: c.var.identity.principal };
      return send(c, await render(c, viewer), viewer, nav);
    });

  return {
    name: "ui",
    mount(app) {
      app.get("/ui", (c) => c.redirect("/ui/", 301));
      mountAssets(app);
      route(app, "/ui/", "/ui/", (c, viewer) => dashboardPage(deps, c.var.caller, viewer));
      route(app, "/ui/requests", "/ui/requests", (c, viewer) => requestsPage(deps.log, c.req.query(), viewer));
      route(app, "/ui/requests/:id", "/ui/requests", (c, viewer) => requestPage(deps.log, deps.store, c.var.caller.config, c.req.param("id") ?? "", viewer));
      route(app, "/ui/tool-calls", "/ui/tool-calls", (c, viewer) => toolCallsPage(deps.store, c.req.query(), viewer));
      route(app, "/ui/sessions", "/ui/sessions", (_c, viewer) => sessionsPage(deps.store, viewer));
      route(app, "/ui/*", "", () => errorPage(404, "Not found", "There is no such page."));
    },
  };
}
