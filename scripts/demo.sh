#!/usr/bin/env bash
# Quick start: install what is missing, then the main job on a local 3-host sandbox fleet.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsx scripts/demo.ts "$@"
