#!/bin/sh
# Runs tests/node/standin.test.mjs (node's built-in test runner, the real openai client) against
# `sparkctl simulate serve --as ENGINE`, or another test file of this directory through the same
# checks (serve.test.mjs: through `sparkctl serve --simulate --listen`).
# Usage: run.sh SPARKCTL_BIN ENGINE [TEST_FILE].
# Without node or without tests/node/node_modules (scripts/install-deps.sh runs `npm ci`) the
# test is skipped (exit 77, ctest SKIP_RETURN_CODE) locally and fails when CI=true.
dir=$(cd "$(dirname "$0")" && pwd)
missing=""
if ! command -v node >/dev/null 2>&1; then
  missing="node is not installed (Debian package nodejs)"
elif [ ! -f "$dir/node_modules/openai/package.json" ]; then
  missing="$dir/node_modules has no openai (run: npm ci --prefix $dir)"
fi
if [ -n "$missing" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "node tests: $missing; required when CI=true" >&2
    exit 1
  fi
  echo "node tests: skipped: $missing" >&2
  exit 77
fi
SPARKCTL_BIN="$1" SPARKCTL_ENGINE="$2" exec node --test "$dir/${3:-standin.test.mjs}"
