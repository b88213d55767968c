"""Moved to `summaries.race.metrics`; this name is kept so that old imports keep working."""

import sys

from summaries.race import metrics

sys.modules[__name__] = metrics
