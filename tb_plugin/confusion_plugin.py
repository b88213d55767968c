"""The per-position Confusion plugin: confusion matrices over training and their examples."""

from __future__ import annotations

from summaries import format as fmt
from tb_plugin.base import FlowscopePlugin, route


class ConfusionPlugin(FlowscopePlugin):
    plugin_name = fmt.CONFUSION_PLUGIN
    tab_name = "Confusion"
    page = "confusion"

    def routes(self):
        return {"/runs": self._serve_runs}

    @route
    def _serve_runs(self, request):
        """Runs with confusion matrices: tags, position and class names."""
        runs = []
        for run, tags in sorted(self.list_series(request, kind=fmt.MATRIX).items()):
            runs.append(
                {
                    "run": run,
                    "tags": [
                        {
                            "tag": tag,
                            "positions": c.get("positions", []),
                            "classes": c.get("classes", []),
                            "max_step": c["max_step"],
                            "error": c.get("error"),
                        }
                        for tag, c in sorted(tags.items())
                    ],
                }
            )
        return {"runs": runs}
