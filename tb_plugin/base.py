"""What both Flowscope plugins share: JSON routes, query arguments, errors, static assets.

Data access lives in `tb_plugin.data` (one `PluginData` per plugin); a plugin's routes parse
their query here and call `*_impl` methods that return plain dicts.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import mimetypes
from collections.abc import Callable
from typing import Any

from tensorboard import plugin_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

import frontend

logger = logging.getLogger("flowscope")


class HttpError(Exception):
    """An error answered as JSON with the given status code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def bad_request(message: str) -> HttpError:
    """A 400 error (bad or missing query parameter)."""
    return HttpError(400, message)


def not_found(message: str) -> HttpError:
    """A 404 error (unknown run, tag, step, ...)."""
    return HttpError(404, message)


def _finite(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_response(payload: Any, code: int = 200) -> wrappers.Response:
    """`payload` as a JSON response (NaN and infinities become null)."""
    try:
        body = json.dumps(payload, allow_nan=False, separators=(",", ":"))
    except ValueError:  # NaN/Inf somewhere: only then pay for the recursive walk
        body = json.dumps(_finite(payload), allow_nan=False, separators=(",", ":"))
    return wrappers.Response(
        body,
        status=code,
        content_type="application/json; charset=utf-8",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )


def route(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Turn `handler(self, request) -> payload | Response` into a WSGI app answering JSON."""

    @functools.wraps(handler)
    @wrappers.Request.application
    def app(self, request):
        try:
            result = handler(self, request)
        except HttpError as err:
            return json_response({"error": err.message}, err.code)
        except Exception as exc:  # never a traceback page
            logger.exception("Flowscope route %s failed", request.path)
            return json_response({"error": f"internal error: {type(exc).__name__}"}, 500)
        return result if isinstance(result, wrappers.Response) else json_response(result)

    return app


def arg_str(request, name: str, default: str | None = None, max_len: int = 4096) -> str:
    """A required (or defaulted) string query parameter."""
    value = request.args.get(name, default)
    if value is None:
        raise bad_request(f"missing query parameter {name!r}")
    if len(value) > max_len:
        raise bad_request(f"query parameter {name!r} is longer than {max_len} characters")
    return value


def _arg_number(request, name: str, required: bool, parse: Callable[[str], Any], what: str):
    """Query parameter `name` parsed by `parse` (`what` it must be), or None when it is
    absent and not `required`."""
    raw = request.args.get(name)
    if raw is None:
        if required:
            raise bad_request(f"missing query parameter {name!r}")
        return None
    try:
        return parse(raw)
    except ValueError:
        raise bad_request(f"query parameter {name!r} must be {what}, got {raw[:50]!r}") from None


def arg_int(request, name: str, default: int | None = None, lo: int = 0, hi: int = 2**31) -> int:
    """An integer query parameter within [lo, hi]."""
    value = _arg_number(request, name, default is None, int, "an integer")
    if value is None:
        return default
    if not lo <= value <= hi:
        raise bad_request(f"query parameter {name!r} must be in [{lo}, {hi}], got {value}")
    return value


def arg_float(request, name: str, default: float | None = None, lo=-math.inf, hi=math.inf):
    """A finite float query parameter within [lo, hi]."""
    value = _arg_number(request, name, default is None, float, "a number")
    if value is None:
        return default
    if not math.isfinite(value) or not lo <= value <= hi:
        raise bad_request(f"query parameter {name!r} must be a finite number in [{lo}, {hi}]")
    return value


class FlowscopePlugin(base_plugin.TBPlugin):
    """Base class: serves the page's ES module and assets; data routes come from `routes()`."""

    plugin_name = ""
    tab_name = ""
    page = ""  # folder under frontend/ holding index.js

    def __init__(self, context: base_plugin.TBContext):
        # Data is read through `tb_plugin.data.PluginData(context.data_provider, ...)`.
        self.tb_context = context

    # -- TensorBoard hooks ------------------------------------------------------------
    def is_active(self) -> bool:
        # Activity comes from data_plugin_names() against the provider's plugin list,
        # which TensorBoard already computes; scanning here would cost every request.
        return False

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(es_module_path="/index.js", tab_name=self.tab_name)

    def get_plugin_apps(self) -> dict[str, Callable]:
        apps = {"/index.js": self._serve_index, "/static/*": self._serve_static}
        apps.update(self.routes())
        return apps

    def routes(self) -> dict[str, Callable]:
        """Data routes of the concrete plugin, e.g. {"/runs": self._serve_runs}."""
        return {}

    # -- static assets ----------------------------------------------------------------
    @wrappers.Request.application
    def _serve_index(self, request):
        return self._asset(f"{self.page}/index.js")

    @wrappers.Request.application
    def _serve_static(self, request):
        prefix = f"/data/plugin/{self.plugin_name}/static/"
        path = request.path
        index = path.find(prefix)
        return self._asset(path[index + len(prefix) :] if index >= 0 else "")

    def _asset(self, relative: str) -> wrappers.Response:
        """Serve a file under frontend/, refusing anything that escapes it."""
        root = frontend.ASSET_DIR
        try:
            target = (root / relative).resolve()
            allowed = target.suffix in (".js", ".css") and target.is_relative_to(root)
            body = target.read_bytes() if relative and allowed and target.is_file() else None
        except (OSError, ValueError):  # NUL bytes, over-long names, races with deletion
            body = None
        if body is None:
            return json_response({"error": "not found"}, 404)
        mime = "text/javascript" if target.suffix == ".js" else mimetypes.types_map[".css"]
        return wrappers.Response(
            body,
            content_type=f"{mime}; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    # -- request --------------------------------------------------------------------
    @staticmethod
    def context(request) -> tuple[Any, str]:
        """(TensorBoard's RequestContext, experiment id) of a request, for the `*_impl` calls."""
        return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)
