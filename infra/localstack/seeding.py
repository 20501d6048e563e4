"""Runs the reference-data seeds of :mod:`infra.seeds` (one module per area, discovered)."""
from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger("localstack.seeding")


@dataclass
class SeedContext:
    """What a ``seed(stack)`` function receives."""

    region: str
    endpoint_url: str
    resources: dict[str, dict[str, Any]]
    env: dict[str, str]
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    client_factory: Callable[[str], Any] | None = None
    resource_factory: Callable[[str], Any] | None = None

    def client(self, service: str) -> Any:
        assert self.client_factory is not None
        return self.client_factory(service)

    def resource(self, service: str) -> Any:
        assert self.resource_factory is not None
        return self.resource_factory(service)

    def physical_id(self, logical_id: str) -> str:
        try:
            return self.resources[logical_id]["physical_id"]
        except KeyError:
            raise KeyError(f"no resource {logical_id!r} in the template") from None

    def function_env(self, logical_id: str) -> dict[str, str]:
        return dict(self.functions[logical_id]["env"])


def discover_seeds(package: str = "infra.seeds") -> list[tuple[str, Callable[[SeedContext], Any]]]:
    try:
        module = importlib.import_module(package)
    except ModuleNotFoundError:
        return []
    seeds = []
    for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        seed_module = importlib.import_module(f"{package}.{info.name}")
        seed = getattr(seed_module, "seed", None)
        if callable(seed):
            seeds.append((f"{package}.{info.name}", seed))
    return seeds


def run_seeds(context: SeedContext, package: str = "infra.seeds") -> dict[str, float]:
    """Run every seed; a failing seed stops the stack (a half-seeded stack misleads)."""
    timings = {}
    for name, seed in discover_seeds(package):
        started = time.perf_counter()
        seed(context)
        timings[name] = round(time.perf_counter() - started, 3)
        log.info("seed.done", extra={"fields": {"seed": name, "seconds": timings[name]}})
    return timings
