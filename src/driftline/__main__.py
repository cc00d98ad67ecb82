"""``python -m driftline``: the same command line as ``driftline``."""

from driftline.cli import main

main()
