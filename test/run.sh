#!/usr/bin/env bash
# npm test: build, then unit and end-to-end tests in one node:test run. The e2e tests share
# one sandbox fleet ("e2e"), torn down here whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p .
files=(test/unit/*.test.ts)
if [ "${OVL_UNIT_ONLY:-}" = "" ]; then
  files+=(test/e2e/*.test.ts)
  # Only a run that used the fleet takes it down: a unit-only run must not pull it from under
  # another checkout's e2e run.
  cleanup() { node bin/ovl.js sandbox down --name "${OVL_E2E_NAME:-e2e}" >/dev/null 2>&1 || true; }
  trap cleanup EXIT INT TERM
fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
