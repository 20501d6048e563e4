"""The SME hears about the journey's own moves: its withdrawal is confirmed, and a hand-off
partner's pickup is announced with the partner's name and phone; no text the SME typed (the
withdrawal reason) goes into a message."""
from __future__ import annotations

from sos1379 import withdrawal
from sos1379.lifecycle import EventType
from sos1379.store import CaseStore
from tests.integration.notify_support import Context, sent_messages, sqs_event
from tests.integration.test_notify_delivery import at_kst, event_body, notify, set_clock, submit  # noqa: F401

_ = notify


def test_withdrawal_is_confirmed_once_by_sms_and_email_without_the_reason_typed(aws, notify, sample_case):
    receipt, _ = submit(aws, sample_case)
    store = CaseStore(aws.tables["CasesTable"])
    withdrawal.withdraw(store, receipt["case_id"], receipt["tracking_token"], {"reason": "자체 해결 010-9999-8888"},
                        now=at_kst(11))
    [event] = [e for e in store.history(receipt["case_id"]) if e["type"] == EventType.WITHDRAWN]
    body = {"version": 1, "event_id": event["event_id"], "case_id": receipt["case_id"], "type": event["type"],
            "at": event["at"], "actor": event["actor"], "data": event["data"]}
    set_clock(at_kst(11, 5))
    assert notify.lambda_handler(sqs_event(body), Context(5000)) == {"batchItemFailures": []}
    assert notify.lambda_handler(sqs_event(body), Context(5000)) == {"batchItemFailures": []}  # redelivered
    sent = sent_messages()
    assert len(sent.sms) == 1 and len(sent.emails) == 1
    sms = sent.sms[0][1]
    assert receipt["case_number"] in sms and "취소되었습니다" in sms
    assert "자체 해결" not in sms + sent.emails[0]["body"] and "9999" not in sms + sent.emails[0]["body"]
    assert "취소되었습니다" in sent.emails[0]["subject"]


def test_partner_pickup_is_announced_with_the_partners_name_and_phone(aws, notify, sample_case):
    receipt, _ = submit(aws, sample_case)
    body = event_body(receipt["case_id"], EventType.PARTNER_ACCEPTED, {"partner": {
        "code": "BIZINFO1357", "name_ko": "중소기업 통합콜센터(기업마당 1357)", "name_en": "SME Integrated Call Center"}},
        at=at_kst(14))
    set_clock(at_kst(14, 1))
    assert notify.lambda_handler(sqs_event(body), Context(5000)) == {"batchItemFailures": []}
    sms = sent_messages().sms[0][1]
    assert "넘겨받았습니다" in sms and "중소기업 통합콜센터(기업마당 1357)" in sms and "1357" in sms
    assert receipt["case_number"] in sms
