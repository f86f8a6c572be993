#!/usr/bin/env bash
# Rebuilds the Action's dist/ and the UI's assets and fails when either differs from what is committed (run by CI).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent bundle
if ! git diff --exit-code --stat -- dist/; then
  echo "dist/ is out of date: run 'npm run bundle' and commit dist/." >&2
  exit 1
fi
untracked=$(git ls-files --others --exclude-standard -- dist/)
if [ -n "$untracked" ]; then
  echo "dist/ has files that are not committed:" >&2
  echo "$untracked" >&2
  exit 1
fi
echo "dist/ is up to date."

# The web UI's assets are built into a committed module the same way.
npm run --silent build:ui
if ! git diff --exit-code --stat -- gateway/ui/assets.generated.ts; then
  echo "gateway/ui/assets.generated.ts is out of date: run 'npm run build:ui' and commit it." >&2
  exit 1
fi
echo "UI assets are up to date."
