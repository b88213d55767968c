"""Moved to `summaries.race.engine`; this name is kept so that old imports keep working."""

import sys

from summaries.race import engine

sys.modules[__name__] = engine
