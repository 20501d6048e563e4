"""Fault injection for tests (the implementation lives in infra/reliability/faults.py so the
benchmarks use the same code): ``FaultRule``, ``inject``, ``WRITE_OPERATIONS``. Tests usually
take the ``faults`` fixture from tests/reliability/conftest.py instead."""
from infra.reliability.faults import (  # noqa: F401 - re-exported
    DEFAULT_KINDS,
    WRITE_OPERATIONS,
    FaultInjector,
    FaultRule,
    fast_backoff,
    inject,
    install_hook,
)
