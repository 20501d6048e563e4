"""Entry of the benchmark registry (infra/cli/bench.py: ``sos1379 bench sla``).

The benchmark itself is :func:`sos1379.sla.bench.run` (defaults: the issue's 100,000 closed and
1,000 open cases). moto needs hours for that on a small shared machine, so the registry runs the
sizes in ``SLA_BENCH_CLOSED`` / ``SLA_BENCH_OPEN`` (default 8,000 / 300); ``sos1379 sla bench
--closed 100000 --open 1000`` runs the full size."""
import os

from .sla.bench import run as _run


def run() -> dict:
    return _run(closed=int(os.environ.get("SLA_BENCH_CLOSED", "8000")),
                open_=int(os.environ.get("SLA_BENCH_OPEN", "300")))
