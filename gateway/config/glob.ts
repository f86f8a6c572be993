// Model globs in Aperture's syntax: "*" matches within one path segment, "**" matches zero or more segments.

const cache = new Map<string, RegExp>();

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob);
  if (re) return re;
  const segments = glob.split("/");
  let source = "";
  segments.forEach((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === "**") {
      // Zero or more whole segments. "a/**" also matches "a" itself, so the separator is inside the optional group.
      if (last) source += i === 0 ? ".*" : "(?:/.*)?";
      else source += (i > 0 ? "/" : "") + "(?:[^/]+/)*";
      return;
    }
    if (i > 0 && segments[i - 1] !== "**") source += "/";
    source += segment.split("*").map(escape).join("[^/]*");
  });
  re = new RegExp(`^${source}$`);
  if (cache.size > 10_000) cache.clear();
  cache.set(glob, re);
  return re;
}

function escape(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
}

export function globMatch(glob: string, value: string): boolean {
  return globToRegExp(glob).test(value);
}
