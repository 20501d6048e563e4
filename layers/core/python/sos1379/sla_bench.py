"""Alias kept for the benchmark registry (infra/cli/bench.py): the benchmark is sos1379.sla.bench."""
from .sla.bench import run

__all__ = ["run"]
