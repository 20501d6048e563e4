"""The local stack comes up from template.yaml and serves the API (`make up` in a subprocess)."""
from __future__ import annotations

import json
import time

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_api_answers_services_when_stack_is_up(stack):
    response = requests.get(f"{stack.api_url}/services", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()


def test_state_file_names_every_queue_and_function_when_stack_is_ready(stack):
    resources = stack.state["resources"]
    queues = {lid for lid, r in resources.items() if r["type"] == "AWS::SQS::Queue"}
    assert {"IntakeQueue", "IntakeDLQ"} <= queues
    urls = set(stack.client("sqs").list_queues(MaxResults=1000).get("QueueUrls", []))
    assert {resources[q]["url"].rsplit("/", 1)[1] for q in queues} <= {u.rsplit("/", 1)[1] for u in urls}
    assert stack.state["api_function"] == "ApiFunction"
    assert stack.state["functions"]["RelayOutboxFunction"]["env"]["CASES_TABLE"] == stack.physical_id("CasesTable")


def test_api_serves_concurrent_requests_when_many_arrive_together(stack):
    from concurrent.futures import ThreadPoolExecutor

    def get(_):
        return requests.get(f"{stack.api_url}/services", timeout=10).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(get, range(48)))
    assert codes == [200] * 48


def test_submitted_case_reaches_the_intake_consumer_through_outbox_relay_when_stack_runs(stack):
    from tests.conftest import load_event

    body = load_event("cases/weld_crack_ko.json")
    created = requests.post(f"{stack.api_url}/cases", json=body, timeout=15)
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]

    def routed() -> list[dict]:
        return [line for line in stack.logs() if line.get("event") == "sqs.batch"
                and line.get("function") == "RouteCaseFunction" and line.get("failed") == 0]

    deadline = time.monotonic() + 60
    while not routed() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert routed(), stack.log_tail()
    relayed = [line for line in stack.logs() if line.get("event") == "stream.batch"
               and line.get("function") == "RelayOutboxFunction"]
    assert relayed and all(not line.get("failed_from") for line in relayed), json.dumps(relayed)[:2000]
    intake = stack.client("sqs").get_queue_attributes(QueueUrl=stack.physical_id("IntakeQueue"),
                                                      AttributeNames=["ApproximateNumberOfMessages"])
    assert intake["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert case_id
