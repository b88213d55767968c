"""Moved to `summaries.race.optimizers`; this name is kept so that old imports keep working."""

import sys

from summaries.race import optimizers

sys.modules[__name__] = optimizers
