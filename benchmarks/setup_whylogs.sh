#!/usr/bin/env bash
# Create benchmarks/.venv-whylogs with whylogs for the scale benchmark's anchor only.
#
# whylogs lives in its own virtualenv so that its dependencies (pandas, numpy, protobuf,
# whylogs-sketching, ...) can never change driftline's pins. driftline is NOT installed
# there; bench_scale.py calls benchmarks/whylogs_runner.py with this venv's python.
#
# Usage: bash benchmarks/setup_whylogs.sh        (idempotent; re-run to repair)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${HERE}/.venv-whylogs"
WHYLOGS_VERSION="${WHYLOGS_VERSION:-1.6.4}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "${VENV}/bin/python" ]]; then
    "${PYTHON}" -m venv "${VENV}"
fi
"${VENV}/bin/python" -m pip install --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --quiet "whylogs[viz]==${WHYLOGS_VERSION}" "pandas>=2.1,<3" pyarrow
"${VENV}/bin/python" -c 'import whylogs, pyarrow; print("whylogs", whylogs.__version__, "pyarrow", pyarrow.__version__)'
echo "ready: ${VENV}/bin/python ${HERE}/whylogs_runner.py --help"
