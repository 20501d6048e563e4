"""``sos1379 bench intake`` in miniature: its floor is exactly the calls intake makes (the benchmark
fails on any other), so a change to intake's DynamoDB calls shows here, not only in a benchmark run.
No timing is asserted."""
from __future__ import annotations

import pytest

from infra.bench import intake


@pytest.mark.parametrize("scenario", intake.SCENARIOS)
def test_floor_replays_exactly_the_calls_intake_made_when_run_in_miniature(scenario):
    figures = intake._latency(4, scenario, warmup=2)
    assert figures["api"]["n"] == figures["floor_bare_boto3"]["n"] == 4
    expected = ["GetItem", "UpdateItem", "Query", "TransactWriteItems"]
    if scenario == "repeat_company":
        expected.insert(3, "BatchGetItem")
    assert figures["floor_calls"] == expected
