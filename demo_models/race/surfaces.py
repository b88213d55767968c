"""Moved to `summaries.race.surfaces`; this name is kept so that old imports keep working."""

import sys

from summaries.race import surfaces

sys.modules[__name__] = surfaces
