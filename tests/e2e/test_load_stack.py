"""A short load run against the real local stack (``sos1379 bench load`` runs 50 clients for
60 s): concurrent SMEs submit cases over HTTP; every case the API accepted (201) is routed and
the SME gets an SMS. The stack runs on moto, whose server is not thread-safe ("dictionary changed
size during iteration" under concurrent writes, retried by botocore): API errors are reported in
the figures, and what is asserted is the promise about accepted cases."""
from __future__ import annotations

import pytest

from infra.bench.load import LocalStack, completion, drive, latency_summary

pytestmark = pytest.mark.e2e


def test_every_accepted_case_is_routed_and_notified_when_clients_submit_concurrently(tmp_path):
    with LocalStack(tmp_path) as stack:
        result = drive(stack.state["api_url"], clients=3, seconds=4)
        done = completion(stack, result["accepted"], drain_seconds=240)
    latency = latency_summary(result["latencies"])
    print(f"load: {latency['n']} requests, p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, "
          f"statuses {dict(result['statuses'])}, {done}")
    assert done["accepted"] > 0
    assert done["not_routed"] == 0 and done["not_notified"] == 0, done
