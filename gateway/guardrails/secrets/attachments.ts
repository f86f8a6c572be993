// Text files an agent attaches base64-encoded (an Anthropic document with a base64 source, a Gemini inlineData part,
// an OpenAI input_file's data: URL): decoded so their text is scanned, and encoded again once a secret is redacted.

/** Media whose bytes are never text: not decoded. */
const BINARY = /^(image|audio|video|font)\/|^application\/(pdf|zip|gzip|x-tar|x-7z-compressed)$/i;
const DATA_URL = /^data:([\w.+-]+\/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*);base64,([A-Za-z0-9+/=\r\n]*)$/;
const BASE64 = /^[A-Za-z0-9+/=\r\n]*$/;

export interface EncodedText {
  /** The attachment's text. */
  readonly text: string;
  /** The attachment's original form with `text` replaced (same encoding, same data: URL prefix). */
  encode(text: string): string;
}

/** The media type an object gives for its `data` (`media_type`, `mime_type`, `mimeType`), if any. */
export function mediaTypeOf(o: Readonly<Record<string, unknown>>): string | undefined {
  const t = o.media_type ?? o.mime_type ?? o.mimeType;
  return typeof t === "string" ? t : undefined;
}

/** Whether an object carries media `data` (base64 bytes, or plain text when its `type` is "text"). */
export function hasMedia(o: Readonly<Record<string, unknown>>): boolean {
  return "media_type" in o || "mime_type" in o || "mimeType" in o;
}

/** The text inside base64 `data` of the given media type, when the bytes are UTF-8 text. */
export function decodeBase64Text(data: string, mediaType: string | undefined): EncodedText | undefined {
  if (data.length < 12 || (mediaType !== undefined && BINARY.test(mediaType)) || !BASE64.test(data)) return undefined;
  const text = utf8Text(Buffer.from(data, "base64"));
  return text === undefined ? undefined : { text, encode: (t) => Buffer.from(t, "utf8").toString("base64") };
}

/** The text inside a `data:…;base64,…` URL string, when its bytes are UTF-8 text. */
export function decodeDataUrl(value: string): EncodedText | undefined {
  if (!value.startsWith("data:")) return undefined;
  const m = DATA_URL.exec(value);
  if (!m) return undefined;
  const inner = decodeBase64Text(m[3] ?? "", m[1]);
  if (!inner) return undefined;
  const prefix = value.slice(0, value.length - (m[3] ?? "").length);
  return { text: inner.text, encode: (t) => prefix + inner.encode(t) };
}

/** Bytes as text when they are valid UTF-8 without NUL or other control bytes a text file does not hold. */
function utf8Text(bytes: Buffer): string | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  return /[\u0000-\u0008\u000e-\u001f]/.test(text) ? undefined : text;
}
