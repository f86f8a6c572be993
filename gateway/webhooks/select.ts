// Which hooks fire for a request: the union of `send_hooks` over the caller's grant values that apply to the model
// (a hook named in several grants fires once), highest preference first, then by name.
import { type HookConfig, type HookEvent, type HooksConfig, requestedEvents } from "../config/hooks.js";
import type { Entitlement } from "../access/caller.js";

export interface SelectedHook {
  readonly name: string;
  /** Undefined when a grant names a hook the config does not define. */
  readonly hook: HookConfig | undefined;
}

export function hooksFor(entitlement: Entitlement, hooks: HooksConfig, event: HookEvent): SelectedHook[] {
  const names = new Set<string>();
  for (const entry of entitlement.hooks) if (requestedEvents(entry.events).includes(event)) names.add(entry.name);
  return [...names]
    .map((name) => ({ name, hook: hooks[name] }))
    .filter(({ hook }) => !hook?.disabled)
    .sort((a, b) => (b.hook?.preference ?? 0) - (a.hook?.preference ?? 0) || a.name.localeCompare(b.name));
}
