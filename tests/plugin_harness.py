"""Both Flowscope plugins served in this process by TensorBoard's own WSGI app and data provider.

The way TensorBoard's first-party plugins are tested: a `plugin_event_multiplexer.
EventMultiplexer` loads a logdir, `MultiplexerDataProvider` serves it (the provider of
TensorBoard's Python loader, ``--load_fast=false``), the plugins are made by their real
loaders (`fix_flags` included) and `application.TensorBoardWSGI` routes the requests
(``/data/plugin/<name>/...``, ``/data/plugins_listing``). No process, no port, no reload
thread: call `reload()` after writing more data. `InProcessBoard` answers `get`, `get_json` and
`plugin` like `conftest.TensorBoard`, so a route test runs against either.
"""

from __future__ import annotations

import argparse
import json
import urllib.parse
from pathlib import Path
from typing import Any

from tensorboard import context as tb_context
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_ingester, plugin_event_multiplexer
from tensorboard.backend.event_processing.data_provider import MultiplexerDataProvider
from tensorboard.plugins import base_plugin
from tensorboard.plugins.core import core_plugin
from werkzeug import test as werkzeug_test

from tb_plugin import loaders

LOADERS = (loaders.RaceLoader, loaders.ConfusionLoader)


class InProcessBoard:
    """TensorBoard's WSGI app over `logdir` with both Flowscope plugins, in this process."""

    def __init__(
        self, logdir: Path | str, reload_multifile: bool | None = None, core: bool = False
    ):
        """`core`: also TensorBoard's core plugin (``/data/runs``, ``/data/environment``),
        whose run list every stock dashboard shows."""
        self.logdir = str(logdir)
        flags = argparse.Namespace(
            logdir=self.logdir,
            path_prefix="",
            samples_per_plugin={},
            window_title="",
            reload_multifile=reload_multifile,  # None: unset, as on TensorBoard's command line
            reload_multifile_inactive_secs=86400,
            logdir_spec="",
        )
        instances = [loader() for loader in LOADERS]
        for loader in instances:
            loader.fix_flags(flags)
        # The sampling TensorBoard's Python loader would use under these flags.
        guidance = dict(data_ingester.DEFAULT_TENSOR_SIZE_GUIDANCE)
        guidance.update(flags.samples_per_plugin)
        self.multiplexer = plugin_event_multiplexer.EventMultiplexer(
            size_guidance=data_ingester.DEFAULT_SIZE_GUIDANCE,
            tensor_size_guidance=guidance,
            # which event files it keeps polling, exactly as LocalDataIngester derives it
            event_file_active_filter=data_ingester._get_event_file_active_filter(flags),
        )
        self.provider = MultiplexerDataProvider(self.multiplexer, self.logdir)
        # What application.TensorBoardWSGIApp does, keeping the plugin instances at hand.
        context = base_plugin.TBContext(
            data_provider=self.provider,
            flags=flags,
            logdir=self.logdir,
            sampling_hints=flags.samples_per_plugin,
        )
        self.plugins: dict[str, Any] = {}
        for loader in instances:
            plugin = loader.load(context)
            assert plugin is not None, f"{type(loader).__name__} failed to load"
            self.plugins[plugin.plugin_name] = plugin
        if core:
            plugin = core_plugin.CorePlugin(context)
            self.plugins[plugin.plugin_name] = plugin
        self.app = application.TensorBoardWSGI(
            list(self.plugins.values()), data_provider=self.provider
        )
        self.client = werkzeug_test.Client(self.app)
        self.reload()

    def reload(self) -> InProcessBoard:
        """Load what was written since, and drop the plugins' cached listings."""
        self.multiplexer.AddRunsFromDirectory(self.logdir)
        self.multiplexer.Reload()
        for plugin in self.plugins.values():
            data = getattr(plugin, "data", None)
            if data is not None:
                data.refresh()
        return self

    @staticmethod
    def context() -> tb_context.RequestContext:
        """The request context an `*_impl` call takes (no auth, no experiment)."""
        return tb_context.RequestContext()

    def get(self, path: str) -> tuple[int, bytes]:
        """GET a path: (status, body) for any status."""
        response = self.client.get(path)
        return response.status_code, response.get_data()

    def get_json(self, path: str, expect: int = 200) -> Any:
        status, body = self.get(path)
        assert status == expect, f"{path}: {status} {body[:500]!r}"
        return json.loads(body)

    def plugin(self, plugin: str, route: str, expect: int = 200, **params) -> Any:
        query = urllib.parse.urlencode(params)
        path = f"/data/plugin/{plugin}/{route}" + (f"?{query}" if query else "")
        return self.get_json(path, expect)

    def wait_enabled(self, *plugins: str, timeout: float = 0) -> dict:
        """The plugins listing, asserting `plugins` are enabled (loaded already: no wait)."""
        listing = self.get_json("/data/plugins_listing")
        for name in plugins:
            assert listing.get(name, {}).get("enabled"), f"{name} is not enabled: {listing}"
        return listing
