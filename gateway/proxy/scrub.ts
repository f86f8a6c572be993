// Removes provider secrets from bytes an upstream sends back (some providers echo the key in auth errors).

const REDACTED = Buffer.from("[redacted]");

export function scrubSecrets(body: Uint8Array, secrets: readonly string[]): Uint8Array {
  let buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const secret of secrets) {
    // Short values would match by accident and cannot be meaningful keys.
    if (secret.length < 8) continue;
    const needle = Buffer.from(secret);
    let at = buf.indexOf(needle);
    if (at === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    while (at !== -1) {
      parts.push(buf.subarray(from, at), REDACTED);
      from = at + needle.length;
      at = buf.indexOf(needle, from);
    }
    parts.push(buf.subarray(from));
    buf = Buffer.concat(parts);
  }
  return buf;
}
