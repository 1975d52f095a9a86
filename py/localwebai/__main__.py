"""``python -m localwebai``: the command line, in ``localwebai.tooling.cli`` (never in the page)."""

import sys

from .tooling.cli import main

if __name__ == "__main__":
    sys.exit(main())
