"""Moved to `summaries.race.tuning`; this name is kept so that old imports keep working."""

import sys

from summaries.race import tuning

sys.modules[__name__] = tuning
