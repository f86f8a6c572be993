// The ways an upstream can write a provider key back, and a search for a key in any of them.

const escapeAll = (s: string, backslashes: string) => Array.from(s, (c) => `${backslashes}u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("");

/** Every encoding the providers' wire formats use, by name. */
export function echoForms(key: string) {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return {
    raw: key,
    "json \\u002d": key.replaceAll("-", "\\u002d"),
    "json \\u002D": key.replaceAll("-", "\\u002D"),
    "json \\/": key.replaceAll("/", "\\/"),
    "every char \\uXXXX": escapeAll(key, "\\"),
    "JSON in JSON": JSON.stringify(key.replaceAll("-", "\\u002d")).slice(1, -1),
    "every char, JSON in JSON": escapeAll(key, "\\\\"),
    "url-encoded": encodeURIComponent(key).replaceAll("-", "%2D"),
    "url-encoded lowercase": Array.from(key, (c) => `%${c.charCodeAt(0).toString(16)}`).join(""),
    "base64 aligned": b64(key),
    "base64 after 1 byte": b64(`x${key}`),
    "base64 after 2 bytes": b64(`xy${key}`),
    base64url: Buffer.from(`?${key}`).toString("base64url"),
  };
}

/** The characters of base64(key) that do not depend on its neighbours, at each alignment, in both alphabets. */
function base64Cores(key: string): string[] {
  return [0, 1, 2].flatMap((pad) => {
    const encoded = Buffer.concat([Buffer.alloc(pad), Buffer.from(key)]).toString("base64");
    const core = encoded.slice(Math.ceil((pad * 8) / 6), Math.floor(((pad + key.length) * 8) / 6));
    return [core, core.replaceAll("+", "-").replaceAll("/", "_")];
  });
}

/** Undoes JSON escapes (at any nesting depth) and URL-encoding. */
function decoded(text: string): string {
  let out = text;
  for (let i = 0; i < 4; i++) {
    out = out
      .replace(/\\+u([0-9a-fA-F]{4})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
      .replace(/\\+\//g, "/")
      .replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
  return out;
}

/** Where `key` shows in `text` in any encoding (a few characters of context), or null. */
export function findKey(text: string, key: string): string | null {
  const plain = decoded(text);
  const at = plain.indexOf(key);
  if (at !== -1) return `decoded …${plain.slice(Math.max(0, at - 60), at + key.length)}`;
  for (const core of base64Cores(key)) {
    const i = text.indexOf(core);
    if (i !== -1) return `base64 …${text.slice(Math.max(0, i - 60), i + core.length)}`;
  }
  return null;
}
