"""Import a module when it is first used, not when the importing module loads.

The API is one Lambda function serving every route: if each blueprint imported its service at
load time, a cold ``POST /cases`` would pay for the router, the catalog and the notifier it never
calls. A blueprint instead holds ``svc = lazy_module("sos1379.institutes.service")`` and writes
``svc.accept(...)`` as before; the module loads on the first attribute read (then it is an
ordinary ``sys.modules`` entry, so the cost is one dictionary lookup per use).

Setting or deleting an attribute goes to the module itself, so ``monkeypatch.setattr(svc, ...)``
patches what every other importer sees."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _load(self) -> ModuleType:
        return importlib.import_module(self._name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._load(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


def lazy_module(name: str) -> Any:
    """A stand-in for ``import name`` that imports on first attribute access (absolute name)."""
    return LazyModule(name)
