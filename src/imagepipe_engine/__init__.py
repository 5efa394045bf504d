"""imagepipe's image engines: one seam, ``render(data, recipe, limits) -> Rendered`` (contract.py), two
engines (vips.py, pillow.py), chosen by select.py. Used by the worker and by ``imagepipe render``; the API and
the trigger never import it."""

from imagepipe_engine.contract import Limits, Render, Rendered, RenderedVariant, ReportProgress
from imagepipe_engine.select import EngineName, engine, engine_name

__all__ = ["EngineName", "Limits", "Render", "Rendered", "RenderedVariant", "ReportProgress", "engine", "engine_name"]
