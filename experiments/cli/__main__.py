"""``python -m experiments.cli VERB ...``: the same as the ``sandbox`` command."""

import sys

from experiments.cli import main

sys.exit(main())
