"""``python -m driftline``: the same command line as ``driftline``."""

from driftline._process import tune_collector

tune_collector()  # before the command line's imports (see driftline._process)

from driftline.cli import main  # noqa: E402

main()
