"""``python -m specgen.cli``: the same entry point as the ``depthnet`` script."""

import sys

from specgen.cli.main import main

sys.exit(main())
