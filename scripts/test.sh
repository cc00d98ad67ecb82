#!/usr/bin/env bash
# driftline's whole test suite: installs what it needs, then format, lint, types, tests
# (doctests included). Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian's chromium: the browser tests open the HTML report in it.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium is missing and this is not root: run 'apt-get install chromium'" >&2
    fi
fi

python3 -m pip install -q -e '.[test,spark]'

python3 -m ruff format --check src tests benchmarks
python3 -m ruff check src tests benchmarks
python3 -m mypy
python3 -m pytest "$@"
