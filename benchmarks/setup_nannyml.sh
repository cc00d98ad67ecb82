#!/usr/bin/env bash
# Create benchmarks/.venv-nannyml with NannyML for the detection benchmark only.
#
# NannyML lives in its own virtualenv so that its dependencies can never change
# driftline's pins; driftline is NOT installed there. benchmarks/bench_nannyml.py calls
# benchmarks/nannyml_runner.py with this venv's python, which exports NannyML's bundled
# synthetic data sets (shipped inside the package: nothing is downloaded) to Parquet and
# runs NannyML's UnivariateDriftCalculator on them.
#
# Usage: bash benchmarks/setup_nannyml.sh        (idempotent; re-run to repair)
# statsmodels: nannyml 0.13.1 imports it (plots) without declaring it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${HERE}/.venv-nannyml"
NANNYML_VERSION="${NANNYML_VERSION:-0.13.1}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "${VENV}/bin/python" ]]; then
    "${PYTHON}" -m venv "${VENV}"
fi
"${VENV}/bin/python" -m pip install --quiet --upgrade pip
"${VENV}/bin/python" -m pip install --quiet "nannyml==${NANNYML_VERSION}" statsmodels pyarrow
"${VENV}/bin/python" -c 'import nannyml, pyarrow; print("nannyml", nannyml.__version__, "pyarrow", pyarrow.__version__)'
echo "ready: ${VENV}/bin/python ${HERE}/nannyml_runner.py --help"
