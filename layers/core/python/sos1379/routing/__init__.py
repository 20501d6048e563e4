"""Case routing: which institute can solve a case, with reasons, and whether to refer it.

The names below are re-exported lazily (PEP 562): importing ``routing.evidence`` or
``routing.models`` does not load the router, its profiles, knowledge and analyzers."""
from __future__ import annotations

import importlib

_HOME = {"InstituteScore": "models", "RoutingInput": "models", "RoutingResult": "models",
         "Router": "router", "RouterConfig": "router", "get_router": "router"}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
