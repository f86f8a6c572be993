// Which hooks fire for a request: the union of `send_hooks` over the caller's grant values that apply to the model
// (a hook named in several grants fires once, with their `send` lists merged), highest preference first, then by name.
import type { HookSend } from "../config/grants.js";
import { type HookConfig, type HookEvent, type HooksConfig, requestedEvents } from "../config/hooks.js";
import type { Entitlement } from "../access/caller.js";

export interface SelectedHook {
  readonly name: string;
  /** Undefined when a grant names a hook the config does not define. */
  readonly hook: HookConfig | undefined;
  /** Aperture's payload selection, merged over the grants; null when no grant gave one (keyless's full payload). */
  readonly send: ReadonlySet<HookSend> | null;
}

export function hooksFor(entitlement: Entitlement, hooks: HooksConfig, event: HookEvent): SelectedHook[] {
  const sends = new Map<string, Set<HookSend> | null>();
  for (const entry of entitlement.hooks) {
    if (!requestedEvents(entry.events).includes(event)) continue;
    const merged = sends.get(entry.name) ?? null;
    if (entry.send === undefined) sends.set(entry.name, merged);
    else sends.set(entry.name, new Set([...(merged ?? []), ...entry.send]));
  }
  return [...sends]
    .map(([name, send]) => ({ name, hook: hooks[name], send }))
    .filter(({ hook }) => !hook?.disabled)
    .sort((a, b) => (b.hook?.preference ?? 0) - (a.hook?.preference ?? 0) || a.name.localeCompare(b.name));
}
