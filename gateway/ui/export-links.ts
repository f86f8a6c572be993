// Links that download a list with the filters in effect (gateway/api/export.ts).
import { html } from "hono/html";
import { type Html, type Params, href } from "./layout.js";

/** "Export: CSV · JSON" for a list with the filters in effect. */
export function exportLinks(list: "requests" | "tool-calls", params: Params): Html {
  const link = (format: string) => href(`/api/export/${list}`, { ...params, before: undefined, format });
  return html`<p class="bar">Export ${list === "requests" ? "these requests" : "these tool calls"}: <a href="${link("csv")}" download>CSV</a> · <a href="${link("json")}" download>JSON</a></p>`;
}
