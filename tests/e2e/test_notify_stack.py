"""SME notifications on the running local stack: POST /cases -> outbox relay -> NotifyQueue ->
notify_sme -> moto SNS/SES, read back with ``sos1379 outbox`` (the providers' own records of what
they accepted: the messaging stand-in's, and the stack's for moto, :mod:`infra.localstack.sent`);
redelivery and DLQ redrive."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import requests

from tests.conftest import ROOT, load_event


def cli(stack, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SOS1379_STATE_DIR": str(stack.state_dir)}
    code = "import sys; from infra.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def outbox(stack, case_number: str) -> list[dict]:
    """What the provider stand-in and moto sent for one case (the rows ``sos1379 outbox`` prints),
    read in-process to poll."""
    from infra.cli.outbox import collect, fetch, fetch_deliveries

    rows = collect(fetch(stack.moto_url), fetch_deliveries(stack.state["services"]["messaging"]))
    return [r for r in rows if r["case_number"] == case_number]


def receipts(rows: list[dict]) -> list[dict]:
    """The receipt messages among a case's rows: routing may add a referral notice (sent by day,
    held by the quiet hours), which these tests do not count."""
    return [r for r in rows if r.get("status", "sent") == "sent"
            and ("RECEIPT" in r.get("template_code", "") or "접수되었습니다" in r["subject"]
                 or "We received" in r["subject"])]


def outbox_cli(stack, case_number: str) -> list[dict]:
    out = cli(stack, "outbox", "--json", "--limit", "0")
    assert out.returncode == 0, out.stderr
    return [r for r in map(json.loads, out.stdout.splitlines()) if r["case_number"] == case_number]


def wait_for(predicate, timeout: float = 40.0, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


def queue_idle(stack, logical_id: str) -> bool:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical_id(logical_id),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def submitted_event(stack, case_id: str) -> dict:
    items = stack.client("dynamodb").query(
        TableName=stack.physical_id("CasesTable"), KeyConditionExpression="PK = :pk AND begins_with(SK, :ev)",
        ExpressionAttributeValues={":pk": {"S": f"CASE#{case_id}"}, ":ev": {"S": "EVENT#"}})["Items"]
    event = next(i for i in items if i["type"]["S"] == "case.submitted")
    return {"version": 1, "event_id": event["event_id"]["S"], "case_id": case_id, "type": "case.submitted",
            "at": event["at"]["S"], "actor": {"kind": "sme", "id": "public"}, "data": {}}


def test_sms_and_email_go_once_and_only_on_chosen_channels_when_cases_are_submitted_on_local_stack(stack):
    email_only = load_event("cases/weld_crack_ko.json")
    email_only["contact"]["preferred_channels"] = ["email"]
    receipt = requests.post(f"{stack.api_url}/cases", json=load_event("cases/weld_crack_ko.json"), timeout=30).json()
    receipt_email_only = requests.post(f"{stack.api_url}/cases", json=email_only, timeout=30).json()
    number = receipt["case_number"]
    rows = wait_for(lambda: (r := receipts(outbox(stack, number))) and len(r) >= 2 and r)
    # the phone gets a KakaoTalk AlimTalk from the domestic provider (never SNS's international route)
    assert sorted(r["channel"] for r in rows) == ["alimtalk", "email"]
    sms = next(r for r in rows if r["channel"] == "alimtalk")
    email = next(r for r in rows if r["channel"] == "email")
    assert sms["recipient"] == "+82-10-****-5678" and email["recipient"] == "m***@example.com"
    assert sms["template_code"] == "SOS1379_RECEIPT_KO_01" and sms["fallback"] == ""
    assert "첫 안내 기한" in sms["text"] and receipt["case_number"] in sms["text"]
    assert "접수되었습니다" in email["subject"] and f"{stack.api_url}/track?case={receipt['case_id']}" in email["text"]

    # the same event delivered again (an SQS redelivery or an outbox replay) adds nothing
    sqs = stack.client("sqs")
    body = submitted_event(stack, receipt["case_id"])
    for _ in range(2):
        sqs.send_message(QueueUrl=stack.physical_id("NotifyQueue"), MessageBody=json.dumps(body))

    def redelivered_twice() -> bool:  # the notifier's own log says it handled both copies
        handled = [line for line in stack.logs() if line.get("message") == "notification handled"
                   and line.get("event_id") == body["event_id"] and line.get("action") == "duplicate"]
        return len(handled) >= 2 and queue_idle(stack, "NotifyQueue")

    assert wait_for(redelivered_twice), stack.log_tail()
    rows = receipts(outbox_cli(stack, number))
    assert len(rows) == 2 and all(r.get("sent_at") for r in rows)

    # the case that chose email only got its email and no SMS
    assert wait_for(lambda: outbox(stack, receipt_email_only["case_number"]))
    assert wait_for(lambda: queue_idle(stack, "NotifyQueue"))
    assert [r["channel"] for r in receipts(outbox(stack, receipt_email_only["case_number"]))] == ["email"]
    assert all(r["channel"] == "email" for r in outbox_cli(stack, receipt_email_only["case_number"]))


def test_dlq_redrive_moves_messages_back_and_they_are_sent_when_run_on_local_stack(stack):
    receipt = requests.post(f"{stack.api_url}/cases", json=load_event("cases/sensor_drift_en.json"), timeout=30).json()
    number = receipt["case_number"]
    assert wait_for(lambda: outbox(stack, number))
    question = f"Please send the calibration log {uuid.uuid4().hex[:6]}."
    parked = {"version": 1, "event_id": uuid.uuid4().hex, "case_id": receipt["case_id"],
              "type": "case.info_requested", "at": "2026-11-26T01:00:00.000Z",
              "actor": {"kind": "institute", "id": "KRISS"}, "data": {"question": question}}
    stack.client("sqs").send_message(QueueUrl=stack.physical_id("NotifyDLQ"), MessageBody=json.dumps(parked))

    out = cli(stack, "dlq", "redrive", "NotifyDLQ", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["target"] == "NotifyQueue" and result["moved"] == 1 and result["in_dlq_after"] == 0
    rows = wait_for(lambda: [r for r in outbox(stack, number) if question in r["text"]])
    assert len(rows) == 1 and rows[0]["channel"] == "email"
