// How long a provider asks a key to rest, from the headers the official SDKs read: retry-after-ms and retry-after
// (seconds or an HTTP date), then Anthropic's anthropic-ratelimit-*-reset (RFC 3339) and OpenAI's
// x-ratelimit-reset-* ("6m0s", "20ms") for a limit whose remaining count is 0.

/** "1h2m3.5s", "20ms" (OpenAI's reset durations) → milliseconds. */
export function parseGoDuration(text: string): number | null {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text.trim()) return null;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  return Math.round(parts.reduce((sum, [, n, u]) => sum + Number(n) * unit[u!]!, 0));
}

function retryAfterMs(headers: Headers, now: number): number | null {
  const ms = Number(headers.get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get("retry-after");
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The latest reset among the provider's rate-limit headers whose remaining count is exhausted. */
function exhaustedResetMs(headers: Headers, now: number): number | null {
  let longest: number | null = null;
  const consider = (ms: number | null) => {
    if (ms !== null && ms >= 0 && (longest === null || ms > longest)) longest = ms;
  };
  headers.forEach((value, name) => {
    const anthropic = /^anthropic-ratelimit-(.+)-reset$/.exec(name);
    if (anthropic && headers.get(`anthropic-ratelimit-${anthropic[1]}-remaining`) === "0") {
      const at = Date.parse(value);
      consider(Number.isNaN(at) ? null : at - now);
    }
    const openai = /^x-ratelimit-reset-(.+)$/.exec(name);
    if (openai && headers.get(`x-ratelimit-remaining-${openai[1]}`) === "0") consider(parseGoDuration(value));
  });
  return longest;
}

/** Milliseconds the provider asked the key to wait, or null when its headers say nothing usable. */
export function requestedRestMs(headers: Headers, now: number): number | null {
  return retryAfterMs(headers, now) ?? exhaustedResetMs(headers, now);
}
