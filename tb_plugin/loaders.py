"""Entry points for TensorBoard: tiny loaders that import the plugins lazily.

TensorBoard imports every `tensorboard_plugins` entry point at start-up and crashes if one
fails, so this module imports nothing beyond TensorBoard and `summaries.format`. The
plugin modules (numpy, contourpy, ...) are imported inside `load()`, where a failure is
logged and the plugin skipped while TensorBoard carries on.
"""

from __future__ import annotations

import importlib
import logging

from tensorboard.plugins import base_plugin

from summaries.format import CONFUSION_PLUGIN, RACE_PLUGIN  # light: json + protos only

logger = logging.getLogger("flowscope")

# Keep every event of our plugins: trajectories arrive in chunks and confusion matrices
# once per evaluation, so TensorBoard's default reservoirs (10 or 100) would drop data.
KEEP_ALL = 0


class _LazyLoader(base_plugin.TBLoader):
    plugin_name = ""
    module = ""
    class_name = ""

    def fix_flags(self, flags) -> None:
        samples = getattr(flags, "samples_per_plugin", None)
        if samples is None:
            samples = {}
            flags.samples_per_plugin = samples
        samples.setdefault(self.plugin_name, KEEP_ALL)
        # A run folder often holds two live event files (a PyTorch SummaryWriter's and a
        # Flowscope LogWriter's). TensorBoard's Python loader then polls only the last one
        # and drops what the other gains (tensorboard#1011) unless --reload_multifile is
        # on; the flag defaults to None (unset), so a user's explicit false still wins.
        if getattr(flags, "reload_multifile", False) is None:
            flags.reload_multifile = True

    def load(self, context):
        try:
            plugin_class = getattr(importlib.import_module(self.module), self.class_name)
            return plugin_class(context)
        except Exception as exc:  # any optional dependency may be broken
            logger.warning(
                "Flowscope: skipping the %s plugin, it failed to load: %s: %s",
                self.plugin_name,
                type(exc).__name__,
                exc,
            )
            return None


class RaceLoader(_LazyLoader):
    """Loads the Optimizer Race page."""

    plugin_name = RACE_PLUGIN
    module = "tb_plugin.race_plugin"
    class_name = "RacePlugin"


class ConfusionLoader(_LazyLoader):
    """Loads the per-position Confusion page."""

    plugin_name = CONFUSION_PLUGIN
    module = "tb_plugin.confusion_plugin"
    class_name = "ConfusionPlugin"
