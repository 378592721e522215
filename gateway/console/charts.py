"""The chart library's script, served from the installed PyPI package ``lightweight-charts``
(TradingView's Lightweight Charts, ``lightweight_charts/js/lightweight-charts.js``): no CDN, no
copy in this repo. Only that file is served, not the package's other files.

The package is found without importing it (its ``__init__`` imports pandas and pywebview, which
the gateway never needs)."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response


def charts_script() -> Path:
    spec = find_spec("lightweight_charts")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the lightweight-charts package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "js" / "lightweight-charts.js"


SCRIPT = charts_script()


async def script(request: Request) -> Response:
    return FileResponse(SCRIPT, media_type="text/javascript")
