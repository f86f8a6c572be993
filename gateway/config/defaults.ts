// The config `keyless serve` runs without --config: a loopback-only gateway for one machine (identity "local" refuses
// other listen addresses and proxied requests, so the "(loopback)" admin is this machine's user), with the provider
// keys taken from the usual environment variables (a provider without one answers a clear 503). examples/keyless.jsonc
// starts from the same settings (a test keeps the two in step).
export const DEFAULT_CONFIG_TEXT = `{
  "listen": "127.0.0.1:8080",
  "identity": { "type": "local" },
  "providers": {
    "anthropic": { "type": "anthropic", "baseurl": "https://api.anthropic.com", "apikey": "\${ANTHROPIC_API_KEY:-}", "models": ["claude-*"] },
    "openai": { "type": "openai", "baseurl": "https://api.openai.com", "apikey": "\${OPENAI_API_KEY:-}", "models": ["gpt-*", "o3*", "o4*", "codex-*"] },
    "gemini": { "type": "gemini", "baseurl": "https://generativelanguage.googleapis.com", "apikey": "\${GEMINI_API_KEY:-}", "models": ["gemini-*"] }
  },
  "grants": [
    { "src": ["(loopback)"], "app": { "keyless.dev/cap/gateway": [{ "role": "admin" }, { "models": "**" }] } }
  ],
  "database": { "path": ".keyless/keyless.db", "retention": "30d" }
}
`;
