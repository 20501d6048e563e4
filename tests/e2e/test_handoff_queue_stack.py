"""A hand-off on the running local stack: the router hands a loan question to 1357, the outbox
relay puts a handoff.v1 message on 1357's own SQS queue, 1357 accepts through its API, and the
SME's tracking view shows the pickup."""
from __future__ import annotations

import json

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_partner_gets_the_handoff_on_its_queue_accepts_it_and_the_sme_sees_the_pickup(stack):
    from sos1379.institutes.keys import dev_key

    api = stack.api_url.rstrip("/")
    stack.seed_institute_keys()
    case_id, headers = stack.submit("cases/export_loan_ko.json")
    view = stack.wait_until(lambda: (v := requests.get(f"{api}/cases/{case_id}", headers=headers, timeout=15).json())
                 ["status"] == "handed_off" and v)
    partner = view["handoff"]["code"]
    sqs = stack.client("sqs")
    queue = stack.state["resources"][f"HandoffQueue{partner.replace('-', '')}"]["url"]

    def message():
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(m["Body"])
            if body["case_id"] == case_id:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
                return body
        return None

    handoff = stack.wait_until(message)
    assert handoff["type"] == "handoff.v1" and handoff["partner"] == partner
    key = {"X-Api-Key": dev_key(partner), "Content-Type": "application/json"}
    accepted = requests.post(f"{api}{handoff['api_path']}/accept", headers=key, data="{}", timeout=15)
    assert accepted.status_code == 200, accepted.text
    seen = requests.get(f"{api}/cases/{case_id}", headers=headers, timeout=15).json()
    assert "case.partner_accepted" in [e["type"] for e in seen["history"]]
