"""``python -m colorize`` (and ``torchrun -m colorize train ...``)."""

import sys

from .cli import main

sys.exit(main())
