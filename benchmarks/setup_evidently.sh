#!/usr/bin/env bash
# Create benchmarks/.venv-evidently with Evidently for the comparison benchmarks only.
#
# Evidently lives in its own virtualenv so that its dependencies (pandas, numpy, scipy,
# pydantic, ...) can never change driftline's pins. driftline is NOT installed there; the
# driftline-side benchmarks call benchmarks/evidently_runner.py with this venv's python.
#
# Usage: bash benchmarks/setup_evidently.sh        (idempotent; re-run to repair)
# pandas<3: Evidently 0.7.23 imports pandas.core.dtypes.common.infer_dtype_from_object,
# which pandas 3 removed (the import fails at `import evidently`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${HERE}/.venv-evidently"
EVIDENTLY_VERSION="${EVIDENTLY_VERSION:-0.7.23}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "${VENV}/bin/python" ]]; then
    "${PYTHON}" -m venv "${VENV}"
fi
"${VENV}/bin/python" -m pip install --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --quiet "evidently==${EVIDENTLY_VERSION}" "pandas>=2.1,<3" pyarrow
"${VENV}/bin/python" -c 'import evidently, pyarrow; print("evidently", evidently.__version__, "pyarrow", pyarrow.__version__)'
echo "ready: ${VENV}/bin/python ${HERE}/evidently_runner.py --help"
