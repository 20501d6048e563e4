"""Entry point kept for ``sos1379 bench catalog`` (infra/cli/bench.py names ``sos1379.catalog.bench:run``).

The benchmark itself lives in ``infra.bench.catalog`` (it starts moto and the stand-in sources,
which are development tools, not part of the Lambda layer); this shim only delegates, lazily, so
nothing in the domain package imports ``infra`` at import time.
"""
from __future__ import annotations

import os


def run(scale: str | None = None) -> dict:
    """Catalog figures at ``scale`` (default: $SOS1379_CATALOG_BENCH_SCALE or ``full``)."""
    from infra.bench.catalog import run as run_catalog_bench

    return run_catalog_bench(scale or os.environ.get("SOS1379_CATALOG_BENCH_SCALE") or "full")
