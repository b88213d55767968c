"""The Optimizer Race plugin: races, surfaces, trajectories and the leaderboard."""

from __future__ import annotations

import contourpy  # noqa: F401  (contour lines for the surface route)

from summaries import format as fmt
from tb_plugin.base import FlowscopePlugin, route


class RacePlugin(FlowscopePlugin):
    plugin_name = fmt.RACE_PLUGIN
    tab_name = "Optimizer Race"
    page = "race"

    def routes(self):
        return {"/races": self._serve_races}

    @route
    def _serve_races(self, request):
        """Races found in the logdir, each with its racers (runs)."""
        races: dict[str, dict] = {}
        for run, tags in self.list_series(request, kind=fmt.TRAJECTORY).items():
            for tag, content in tags.items():
                name = content.get("race", run)
                race = races.setdefault(name, {"race": name, "surface": None, "racers": []})
                race["surface"] = race["surface"] or content.get("surface")
                race["racers"].append(
                    {
                        "run": run,
                        "tag": tag,
                        "optimizer": content.get("optimizer", run),
                        "hyperparameters": content.get("hyperparameters", {}),
                        "max_step": content["max_step"],
                        "error": content.get("error"),
                    }
                )
        return {"races": sorted(races.values(), key=lambda r: r["race"])}
