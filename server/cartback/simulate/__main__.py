"""`python -m cartback.simulate` (the command itself: cli/simulate.py)."""

import sys

from ..cli.simulate import main

sys.exit(main())
