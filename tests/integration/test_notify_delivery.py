"""SME notifications end to end in-process: NotifyQueue record -> notify_sme handler -> moto SNS
(SMS) and SES v2 (email), with idempotency, quiet hours, crash safety and failure handling."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import boto3
import pytest

from sos1379 import intake
from sos1379.events import CaseEvent, parse_iso
from sos1379.korea import SEOUL
from sos1379.lifecycle import EventType
from sos1379.notify import runtime
from sos1379.store import CaseStore
from tests.conftest import load_event
from tests.integration.notify_support import (SENDER, Context, fail_next, notify_function, sent_messages,
                                              sqs_event)


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the handler cleans up."""


@pytest.fixture
def notify(aws, monkeypatch):
    with notify_function(monkeypatch, PUBLIC_BASE_URL="https://sos1379.example.kr") as handler:
        yield handler


def at_kst(hour: int, minute: int = 0, day: int = 26) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL).astimezone(timezone.utc)


def set_clock(when: datetime) -> None:
    runtime.get_notifier().clock = lambda: when


def submit(aws, payload: dict, when: datetime | None = None) -> tuple[dict, dict]:
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, payload, now=when or at_kst(10))
    submitted = [e for e in store.history(receipt["case_id"]) if e["type"] == EventType.SUBMITTED][0]
    body = {"version": 1, "event_id": submitted["event_id"], "case_id": receipt["case_id"], "type": submitted["type"],
            "at": submitted["at"], "actor": submitted["actor"], "data": submitted["data"]}
    return receipt, body


def event_body(case_id: str, type_: str, data: dict | None = None, at: datetime | None = None) -> dict:
    return CaseEvent(case_id=case_id, type=type_, data=data or {},
                     at=(at or at_kst(10)).isoformat().replace("+00:00", "Z")).message().wire()


def attempts(aws, case_id: str) -> list[dict]:
    store = CaseStore(aws.tables["CasesTable"])
    return [e["data"] for e in store.history(case_id) if e["type"] == EventType.NOTIFICATION]


def test_both_channels_get_exactly_one_sms_and_one_email_in_korean_when_case_submitted(aws, notify, sample_case):
    receipt, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    out = notify.lambda_handler(sqs_event(body), Context(5000))
    assert out == {"batchItemFailures": []}
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1
    phone, sms = sent.sms[0]
    assert phone == "+821012345678"
    assert receipt["case_number"] in sms and "https://sos1379.example.kr/t/" in sms
    # the news itself, not a bare link: case number, due date (KST), link; no submitter text
    assert "첫 안내 기한" in sms and "12월 1일(화)" in sms
    assert sample_case["title"] not in sms and sample_case["company"]["name"] not in sms
    email = sent.emails[0]
    assert "12월 1일(화)" in email["body"] and sample_case["title"] not in email["body"] + email["subject"]
    assert email["to"] == ["minsu.kim@example.com"] and email["source"] == SENDER
    assert receipt["case_number"] in email["subject"] and "접수되었습니다" in email["subject"]
    assert f"https://sos1379.example.kr/track?case={receipt['case_id']}&token=" in email["body"]
    statuses = sorted((a["channel"], a["status"]) for a in attempts(aws, receipt["case_id"]))
    assert statuses == [("email", "queued"), ("email", "sent"), ("sms", "queued"), ("sms", "sent")]


def test_email_link_opens_the_case_when_sme_follows_it(aws, notify, sample_case):
    from sos1379.notify.links import verify_link_token

    receipt, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    link = sent_messages().emails[0]["body"].split("track?case=")[1].split()[0]
    case_id, token = link.split("&lang=")[0].split("&token=")
    assert link.endswith("&lang=ko")
    store = CaseStore(aws.tables["CasesTable"])
    assert verify_link_token(store, case_id, token)
    assert not verify_link_token(store, case_id, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not verify_link_token(store, "another-case", token)


def test_redelivery_sends_nothing_more_when_event_already_notified(aws, notify, sample_case):
    receipt, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    before = len(attempts(aws, receipt["case_id"]))
    for _ in range(3):  # SQS redelivery, an outbox replay, a DLQ redrive: new message ids, same event
        assert notify.lambda_handler(sqs_event(body), Context(5000)) == {"batchItemFailures": []}
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1
    assert len(attempts(aws, receipt["case_id"])) == before


def test_replay_after_idempotency_records_expired_still_sends_nothing_when_markers_exist(aws, notify, sample_case):
    receipt, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    ddb = boto3.resource("dynamodb").Table(aws.tables["IdempotencyTable"])
    for item in ddb.scan()["Items"]:  # Powertools records gone (expired after days)
        ddb.delete_item(Key={"id": item["id"]})
    notify.lambda_handler(sqs_event(body), Context(5000))
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1


def test_english_contact_gets_english_email_only_when_email_is_the_only_channel(aws, notify):
    payload = load_event("cases/sensor_drift_en.json")
    receipt, body = submit(aws, payload)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    sent = sent_messages()
    assert sent.sms == []
    assert len(sent.emails) == 1
    assert "We received your request" in sent.emails[0]["subject"]
    assert receipt["case_number"] in sent.emails[0]["body"] and "/track?case=" in sent.emails[0]["body"]
    # every link opens the tracking page in English: the API receipt, the email, the short link
    assert receipt["tracking_url"].endswith("&lang=en")
    assert "&lang=en" in sent.emails[0]["body"].split("/track?case=")[1].split()[0]
    assert "Dec" in sent.emails[0]["body"] and "KST" in sent.emails[0]["body"]


def test_english_contact_gets_english_text_and_short_link_opens_english_page_when_sms_chosen(aws, notify):
    from sos1379.notify.links import redirect_target

    payload = load_event("cases/sensor_drift_en.json")
    payload["contact"]["preferred_channels"] = ["sms", "email"]
    receipt, body = submit(aws, payload)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    (_, text), = sent_messages().sms
    assert "We received your technology-support request" in text and receipt["case_number"] in text
    assert "First guidance by: Tue 1 Dec" in text
    token = text.split("/t/")[1].split()[0]
    target = redirect_target(CaseStore(aws.tables["CasesTable"]), token)
    assert target.endswith("&lang=en") and f"case={receipt['case_id']}" in target


def test_korean_case_gets_no_sms_when_sme_chose_email_only(aws, notify, sample_case):
    sample_case["contact"]["preferred_channels"] = ["email"]
    _, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    sent = sent_messages()
    assert sent.sms == [] and len(sent.emails) == 1


class QueueSpy:
    """Stands in for the SQS re-enqueue (moto honours DelaySeconds in real time)."""

    def __init__(self) -> None:
        self.sent: list[tuple[dict, int]] = []

    def __call__(self, body: dict, delay: int) -> None:
        self.sent.append((json.loads(json.dumps(body)), delay))


def test_non_urgent_update_at_23h_kst_is_deferred_to_08h_when_in_quiet_hours(aws, notify, sample_case):
    receipt, _ = submit(aws, sample_case)
    referred = event_body(receipt["case_id"], EventType.REFERRED, {"institutes": ["KITECH"]}, at=at_kst(23))
    notifier = runtime.get_notifier()
    notifier.requeue = spy = QueueSpy()
    set_clock(at_kst(23))
    assert notify.lambda_handler(sqs_event(referred), Context(5000)) == {"batchItemFailures": []}
    assert sent_messages().sms == [] and sent_messages().emails == []
    assert len(spy.sent) == 1
    hop, delay = spy.sent[0]
    assert hop["event_id"] == referred["event_id"] and delay == 900
    release = parse_iso(hop["deliver_after"]).astimezone(SEOUL)
    assert (release.day, release.hour, release.minute) == (27, 8, 0)
    deferred = [a for a in attempts(aws, receipt["case_id"]) if a["status"] == "deferred"]
    assert sorted(a["channel"] for a in deferred) == ["email", "sms"]
    assert all("****" in a["recipient"] or "***@" in a["recipient"] for a in deferred)

    # a hop arriving during the night goes back again, without a new history entry
    set_clock(at_kst(7, 50, day=27))
    notify.lambda_handler(sqs_event(hop), Context(5000))
    assert len(spy.sent) == 2
    hop2, delay2 = spy.sent[1]
    assert hop2["deliver_after"] == hop["deliver_after"] and delay2 == 600
    assert len([a for a in attempts(aws, receipt["case_id"]) if a["status"] == "deferred"]) == 2
    assert sent_messages().sms == []

    # at 08:00 it goes out, naming the institute in plain words
    set_clock(at_kst(8, 0, day=27))
    notify.lambda_handler(sqs_event(hop2), Context(5000))
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1
    assert "한국생산기술연구원" in sent.emails[0]["body"]
    assert len(spy.sent) == 2


def test_deferred_copy_goes_back_on_the_notify_queue_when_requeued(aws, notify):
    from sos1379.notify.service import requeue_message

    body = event_body("c1", EventType.ACCEPTED, {"institute": "KIMS"})
    requeue_message(aws.queues["NotifyQueue"])({**body, "deliver_after": "2026-11-27T08:00:00.000Z"}, 0)
    assert aws.drain("NotifyQueue") == [{**body, "deliver_after": "2026-11-27T08:00:00.000Z"}]


def test_urgent_info_request_is_sent_at_once_when_in_quiet_hours(aws, notify, sample_case):
    receipt, _ = submit(aws, sample_case)
    set_clock(at_kst(23, 30))
    body = event_body(receipt["case_id"], EventType.INFO_REQUESTED,
                      {"question": "용접 전후 사진을 보내주세요.", "due_at": "2026-11-30T09:00:00.000Z"})
    notify.lambda_handler(sqs_event(body), Context(5000))
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1
    assert "용접 전후 사진을 보내주세요." in sent.emails[0]["body"]
    assert aws.drain("NotifyQueue") == []


def test_exactly_one_sms_when_process_crashes_after_provider_accepted_then_message_redelivered(
        aws, notify, sample_case):
    receipt, body = submit(aws, sample_case)
    notifier = runtime.get_notifier()
    notifier.clock = lambda: at_kst(10, 5)
    real_sms = notifier.sms

    class CrashAfterAccept:
        name = "sns"

        def send(self, message):
            result = real_sms.send(message)  # the provider accepted it...
            raise Crash()                             # ...and the process died before recording it

    notifier.sms = CrashAfterAccept()
    event = sqs_event(body)
    with pytest.raises(Crash):
        notify.lambda_handler(event, Context(remaining_ms=1))
    assert len(sent_messages().sms) == 1
    # the Powertools record is left INPROGRESS, as after a real crash
    items = boto3.resource("dynamodb").Table(aws.tables["IdempotencyTable"]).scan()["Items"]
    assert [i["status"] for i in items] == ["INPROGRESS"]

    notifier.sms = real_sms  # a fresh execution environment takes the redelivered message
    notifier.clock = lambda: at_kst(10, 8)
    out = notify.lambda_handler(sqs_event(body, receive_count=2), Context(5000))
    assert out == {"batchItemFailures": []}
    sent = sent_messages()
    assert len(sent.sms) == 1, "the SMS must not be sent twice"
    assert len(sent.emails) == 1
    sms_attempts = [a for a in attempts(aws, receipt["case_id"]) if a["channel"] == "sms"]
    assert [a["status"] for a in sms_attempts] == ["queued", "sent"]
    assert sms_attempts[-1]["reason"] == "unconfirmed_after_interruption"
    statuses = {i["status"] for i in boto3.resource("dynamodb").Table(aws.tables["IdempotencyTable"]).scan()["Items"]}
    assert statuses == {"COMPLETED"}


def test_exactly_one_email_when_process_crashes_after_marker_but_before_idempotency_save(aws, notify, sample_case):
    receipt, body = submit(aws, sample_case)
    notifier = runtime.get_notifier()
    notifier.clock = lambda: at_kst(10, 5)
    real_settle = notifier._settle

    def settle_then_crash(*args, **kwargs):
        real_settle(*args, **kwargs)
        raise Crash()

    notifier._settle = settle_then_crash
    with pytest.raises(Crash):
        notify.lambda_handler(sqs_event(body), Context(remaining_ms=1))
    notifier._settle = real_settle
    notify.lambda_handler(sqs_event(body, receive_count=2), Context(5000))
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1


def test_permanent_failure_is_recorded_and_not_retried_when_sender_is_rejected(aws, notify, sample_case):
    sample_case["contact"]["preferred_channels"] = ["email"]
    receipt, body = submit(aws, sample_case)
    boto3.client("sesv2").delete_email_identity(EmailIdentity=SENDER)  # SES answers MessageRejected
    set_clock(at_kst(10, 5))
    out = notify.lambda_handler(sqs_event(body), Context(5000))
    assert out == {"batchItemFailures": []}  # not retried: a retry cannot succeed
    failed = [a for a in attempts(aws, receipt["case_id"]) if a["status"] == "failed_permanent"]
    assert len(failed) == 1 and failed[0]["reason"] == "MessageRejected"
    assert failed[0]["recipient"] == "m***@example.com"
    # a redelivery does not try the provider again
    boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER)
    notify.lambda_handler(sqs_event(body), Context(5000))
    assert sent_messages().emails == []


def test_invalid_number_is_a_permanent_failure_when_sns_rejects_it(aws, notify, sample_case):
    sample_case["contact"]["preferred_channels"] = ["sms"]
    receipt, body = submit(aws, sample_case)
    table = boto3.resource("dynamodb").Table(aws.tables["CasesTable"])
    table.update_item(Key={"PK": f"CASE#{receipt['case_id']}", "SK": "META"},
                      UpdateExpression="SET contact.phone = :p", ExpressionAttributeValues={":p": "+82-10-NOT-A-NUMBER"})
    set_clock(at_kst(10, 5))
    assert notify.lambda_handler(sqs_event(body), Context(5000)) == {"batchItemFailures": []}
    failed = [a for a in attempts(aws, receipt["case_id"]) if a["status"] == "failed_permanent"]
    assert [f["reason"] for f in failed] == ["InvalidParameter"]
    assert sent_messages().sms == []


def test_transient_failure_is_retried_and_sent_once_when_sns_throttles(aws, notify, sample_case):
    from sos1379.notify.channels import provider_client

    receipt, body = submit(aws, sample_case)
    other, other_body = submit(aws, load_event("cases/sensor_drift_en.json"))  # email only: healthy
    set_clock(at_kst(10, 5))
    injected = fail_next(provider_client("sns"), "Publish", "Throttling", 400)
    event = sqs_event(body, other_body)
    out = notify.lambda_handler(event, Context(5000))
    assert out == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert injected == [1]
    sent = sent_messages()
    assert sent.sms == [] and len(sent.emails) == 2  # both emails went; the SMS waits for the retry
    temp = [a for a in attempts(aws, receipt["case_id"]) if a["status"] == "failed_temporary"]
    assert [(t["channel"], t["reason"]) for t in temp] == [("sms", "Throttling")]

    set_clock(at_kst(10, 7))
    out = notify.lambda_handler(sqs_event(body, receive_count=2), Context(5000))
    assert out == {"batchItemFailures": []}
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 2


def test_record_stays_failed_when_every_retry_is_throttled_so_it_reaches_the_dlq(aws, notify, sample_case):
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    from sos1379.notify.channels import provider_client

    sample_case["contact"]["preferred_channels"] = ["sms"]
    _, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    fail_next(provider_client("sns"), "Publish", "ServiceUnavailable", 503, times=5)
    for attempt in range(1, 6):  # maxReceiveCount of NotifyQueue
        with pytest.raises(BatchProcessingError):  # a batch whose every record failed
            notify.lambda_handler(sqs_event(body, receive_count=attempt), Context(5000))
    assert sent_messages().sms == []


def test_no_phone_or_email_in_clear_in_history_or_logs_when_notifying(aws, notify, sample_case, capsys):
    receipt, body = submit(aws, sample_case)
    set_clock(at_kst(10, 5))
    notify.lambda_handler(sqs_event(body), Context(5000))
    history = json.dumps(CaseStore(aws.tables["CasesTable"]).history(receipt["case_id"]), ensure_ascii=False,
                         default=str)
    idem = json.dumps(boto3.resource("dynamodb").Table(aws.tables["IdempotencyTable"]).scan()["Items"], default=str)
    logs = capsys.readouterr()
    for text in (history, idem, logs.out, logs.err):
        assert "1234-5678" not in text and "01012345678" not in text and "+821012345678" not in text
        assert "minsu.kim@example.com" not in text


def test_message_is_sent_once_when_the_claim_was_applied_but_its_answer_was_lost(aws, notify, sample_case,
                                                                                  monkeypatch):
    receipt, body = submit(aws, sample_case)
    notifier = runtime.get_notifier()
    notifier.clock = lambda: at_kst(10, 5)
    real_claim = notifier.store.claim_notice
    lost = {"n": 0}

    def applied_then_lost(*args, **kwargs):
        applied = real_claim(*args, **kwargs)
        if lost["n"] == 0 and applied:
            lost["n"] += 1
            return False  # what the retried, already-applied claim answers
        return applied

    monkeypatch.setattr(notifier.store, "claim_notice", applied_then_lost)
    out = notify.lambda_handler(sqs_event(body), Context(5000))
    assert out == {"batchItemFailures": []} and lost["n"] == 1
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1
