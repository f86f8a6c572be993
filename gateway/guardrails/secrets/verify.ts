// Formats that carry their own check: a match that fails it is not a real token (an example, a placeholder, a
// look-alike), a match that passes it almost surely is.
import { crc32 } from "node:zlib";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function base62(n: number, width: number): string {
  let out = "";
  let v = n;
  do {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  } while (v > 0);
  return out.padStart(width, "0");
}

/**
 * GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) and npm (`npm_`) tokens: 30 random base62 characters, then the
 * CRC32 of those 30 in 6 base62 digits. GitHub's fine-grained `github_pat_<22>_<59>`: the CRC32 of the last
 * segment's first 53 characters in its last 6 (as public scanners check it; GitHub does not document it).
 */
export function base62Crc32Valid(token: string): boolean {
  const body = token.slice(token.lastIndexOf("_") + 1);
  if (body.length <= 6 || !/^[0-9A-Za-z]+$/.test(body)) return false;
  return base62(crc32(body.slice(0, -6)) >>> 0, 6) === body.slice(-6);
}

function base64Json(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A JWT whose header is JSON naming an algorithm. */
function jwtValid(token: string): boolean {
  const header = base64Json(token.split(".")[0] ?? "");
  return typeof header?.alg === "string";
}

/** A PyPI token is a macaroon issued by pypi.org (its location is in the decoded bytes). */
function pypiValid(token: string): boolean {
  return Buffer.from(token.replace(/^pypi-/, ""), "base64url").toString("latin1").includes("pypi.org");
}

export interface Verifier {
  readonly check: (secret: string) => boolean;
  /** A failed check means "not a token" (else it only leaves the match unverified). */
  readonly decisive: boolean;
}

/** By rule id (without the `secret.` prefix). */
export const VERIFIERS: Readonly<Record<string, Verifier>> = {
  "github-pat": { check: base62Crc32Valid, decisive: true },
  "github-oauth": { check: base62Crc32Valid, decisive: true },
  // ghs_ is also the job's GITHUB_TOKEN: never dropped on a check GitHub does not document for it.
  "github-app-token": { check: base62Crc32Valid, decisive: false },
  "github-refresh-token": { check: base62Crc32Valid, decisive: true },
  "github-fine-grained-pat": { check: base62Crc32Valid, decisive: false },
  "npm-access-token": { check: base62Crc32Valid, decisive: true },
  "pypi-upload-token": { check: pypiValid, decisive: true },
  jwt: { check: jwtValid, decisive: true },
};
