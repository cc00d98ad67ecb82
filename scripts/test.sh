#!/usr/bin/env bash
# driftline's whole test suite: installs what it needs, then lint, types, tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's chromium drives the browser tests of the HTML report and dashboard.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium not found and not root: browser tests will fail; apt-get install chromium" >&2
    fi
fi

python -m pip install -q -e '.[test,spark]'

ruff format --check src tests benchmarks
ruff check src tests benchmarks
mypy
python -m pytest "$@"
