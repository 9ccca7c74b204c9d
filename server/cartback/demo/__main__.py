"""`python -m cartback.demo`: the same as `cartback demo`."""

import sys

from ..cli.demo import main

sys.exit(main())
