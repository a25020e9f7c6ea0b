"""``python -m explorer``: see :mod:`explorer.cli`."""

import sys

from explorer.cli import main

if __name__ == "__main__":  # not when a worker process of the benchmark imports this module again
    sys.exit(main())
