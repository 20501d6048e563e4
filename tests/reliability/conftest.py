"""Fixtures of the reliability suites: AWS fault injection and the in-process pipeline."""
from __future__ import annotations

import contextlib

import pytest

from tests.reliability.faults import FaultRule, inject


@pytest.fixture
def faults():
    """``faults(FaultRule.writes("sqs", 0.2), ..., seed=7)`` activates fault injection for the rest
    of the test and returns the injector (its ``stats`` count attempts and injected faults).
    Clients cached by the project are rebuilt on activation and again at the end."""
    with contextlib.ExitStack() as stack:
        def activate(*rules: FaultRule, seed: int = 1379, backoff_scale: float | None = 0.0):
            return stack.enter_context(inject(*rules, seed=seed, backoff_scale=backoff_scale))

        yield activate
