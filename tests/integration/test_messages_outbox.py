"""``sos1379 outbox`` tells the truth: channel (alimtalk / sms / lms / email), the fallback reason,
what the quiet hours hold and until when, and the status, with recipients masked."""
from __future__ import annotations

import json

from infra.cli import outbox
from sos1379 import intake
from sos1379.events import CaseEvent
from sos1379.lifecycle import EventType
from sos1379.store import CaseStore


def test_provider_deliveries_show_route_fallback_and_template_when_collected():
    deliveries = [
        {"route": "alimtalk", "message_id": "r1:1", "recipient": "+821012345678", "template_code": "SOS1379_RECEIPT_KO_01",
         "content": "■ 접수번호: 261126-0001", "subject": "", "fallback_reason": ""},
        {"route": "lms", "message_id": "r2:1", "recipient": "+821099998888", "template_code": "",
         "content": "[기업공감 원스톱서비스 1379]\n■ 접수번호: 261126-0002", "subject": "[1379] 접수 완료",
         "fallback_reason": "not_kakao_user"}]
    rows = outbox.collect({}, deliveries)
    assert [(r["channel"], r["status"], r["fallback"], r["case_number"]) for r in rows] == [
        ("alimtalk", "sent", "", "261126-0001"), ("lms", "sent", "not_kakao_user", "261126-0002")]
    assert rows[1]["recipient"] == "+82-10-****-8888" and "99998888" not in json.dumps(rows)


def test_held_message_shows_until_when_quiet_hours_deferred_it(aws, sample_case):
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, sample_case)
    case_id = receipt["case_id"]
    data = {"channel": "sms", "event_type": "case.referred", "event_id": "e-held", "status": "deferred",
            "reason": "quiet_hours", "recipient": "+82-10-****-5678", "deliver_after": "2026-11-26T23:00:00.000Z"}
    store.append_event(CaseEvent(case_id=case_id, type=EventType.NOTIFICATION, at="2026-11-26T14:00:00.000Z",
                                 data=data))
    # a deferred message that was sent later is not held any more
    store.append_event(CaseEvent(case_id=case_id, type=EventType.NOTIFICATION, at="2026-11-26T14:00:00.000Z",
                                 data={**data, "event_id": "e-gone"}))
    store.append_event(CaseEvent(case_id=case_id, type=EventType.NOTIFICATION, at="2026-11-26T23:00:01.000Z",
                                 data={**data, "event_id": "e-gone", "status": "sent", "route": "alimtalk"}))
    # a permanent failure shows as failed, with its reason
    store.append_event(CaseEvent(case_id=case_id, type=EventType.NOTIFICATION, at="2026-11-26T14:00:00.000Z",
                                 data={**data, "event_id": "e-bad", "channel": "email", "status": "failed_permanent",
                                       "reason": "MessageRejected", "recipient": "m***@example.com"}))
    rows = outbox.held_rows(store)
    (failed,) = [r for r in rows if r["status"] == "failed"]
    assert failed["channel"] == "email" and "MessageRejected" in failed["text"] and failed["held_until"] == ""
    held = [r for r in rows if r["status"] == "held"]
    assert len(held) == 1
    row = held[0]
    assert row["status"] == "held" and row["held_until"] == "2026-11-26T23:00:00.000Z"
    assert row["case_number"] == receipt["case_number"] and row["channel"] == "alimtalk"
    assert row["recipient"] == "+82-10-****-5678"
