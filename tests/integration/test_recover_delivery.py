"""A matched lost-link request reaches the SME as a fresh link, on the contact that matched only,
once, and the link opens the case (in the case's language)."""
from __future__ import annotations

from sos1379 import intake, recovery
from sos1379.lifecycle import EventType
from sos1379.notify.links import redirect_target, verify_link_token
from sos1379.store import CaseStore
from tests.conftest import load_event
from tests.integration.notify_support import Context, sent_messages, sqs_event
from tests.integration.test_notify_delivery import at_kst, notify, set_clock  # noqa: F401 - the fixture

NOW = at_kst(23, 30)  # lost links are urgent: the quiet hours do not hold them


def link_requested(store: CaseStore, case_id: str) -> dict:
    event = next(e for e in store.history(case_id) if e["type"] == EventType.LINK_REQUESTED)
    return {"version": 1, "event_id": event["event_id"], "case_id": case_id, "type": event["type"],
            "at": event["at"], "actor": event["actor"], "data": event["data"]}


def test_matched_phone_gets_one_fresh_link_and_email_gets_nothing_when_recovering_by_phone(aws, notify):  # noqa: F811
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, load_event("cases/weld_crack_ko.json"), now=at_kst(10))
    recovery.request_link(store, {"case_number": receipt["case_number"], "phone": "010-1234-5678"},
                          client_id="203.0.113.1", now=NOW)
    body = link_requested(store, receipt["case_id"])
    set_clock(NOW)
    for _ in range(2):  # a redelivery adds nothing
        assert notify.lambda_handler(sqs_event(body), Context(5000)) == {"batchItemFailures": []}
    sent = sent_messages()
    assert sent.emails == [] and len(sent.sms) == 1
    phone, text = sent.sms[0]
    assert phone == "+821012345678" and receipt["case_number"] in text and "다시 보내드립니다" in text
    token = text.split("/t/")[1].split()[0]
    assert verify_link_token(store, receipt["case_id"], token)
    assert redirect_target(store, token).endswith("&lang=ko")
    # the receipt's own token still works: a lost link is not a stolen one
    assert intake.load_case_for_sme(store, receipt["case_id"], receipt["tracking_token"])


def test_english_case_recovered_by_email_gets_an_english_email_link(aws, notify):  # noqa: F811
    store = CaseStore(aws.tables["CasesTable"])
    receipt, _ = intake.submit_case(store, load_event("cases/sensor_drift_en.json"), now=at_kst(10))
    recovery.request_link(store, {"case_number": receipt["case_number"], "email": "jane.park@example.com"},
                          client_id="203.0.113.2", now=NOW)
    set_clock(NOW)
    notify.lambda_handler(sqs_event(link_requested(store, receipt["case_id"])), Context(5000))
    (email,) = sent_messages().emails
    assert email["subject"].startswith("[SOS 1379] Your tracking link") and receipt["case_number"] in email["subject"]
    link = email["body"].split("/track?case=")[1].split()[0]
    assert link.endswith("&lang=en")
