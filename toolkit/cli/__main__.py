"""``python -m toolkit.cli``: the ``tfs`` command line."""

import sys

from toolkit.cli import main

sys.exit(main())
