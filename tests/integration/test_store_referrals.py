"""The store owns the referral items: features ask it in domain terms (read, flag as sent, move
status) and never build the item's key themselves."""
from __future__ import annotations

import uuid

from sos1379.events import Actor, CaseEvent, iso, utcnow
from sos1379.lifecycle import EventType
from sos1379.store import CaseStore


def _stored_case(store: CaseStore, number: str) -> dict:
    case_id = uuid.uuid4().hex
    case = {"case_id": case_id, "case_number": number, "status": "referred", "title": "용접 균열",
            "guidance_due_at": "2026-12-01T06:00:00.000Z", "version": 1}
    store.create_case(case, CaseEvent(case_id=case_id, type=EventType.SUBMITTED, at=iso(utcnow()),
                                      actor=Actor(kind="sme", id="public"), data={}))
    return case


def _referral(case: dict, institute: str, referral_id: str) -> dict:
    return {"case_id": case["case_id"], "institute": institute, "referral_id": referral_id, "status": "referred",
            "referred_at": "2026-11-26T01:00:00.000Z", "message_sent": False}


def test_a_referral_is_flagged_sent_only_while_it_is_the_same_referral_when_marked(aws):
    store = CaseStore(aws.tables["CasesTable"])
    case = _stored_case(store, "261126-0101")
    store.client.transact_write_items(TransactItems=[
        store.referral_put_action(_referral(case, "KITECH", "r-1"), must_be_new=True)])

    assert store.mark_referral_sent(case["case_id"], "KITECH", "r-1", "2026-11-26T01:00:01.000Z") is True
    assert store.mark_referral_sent(case["case_id"], "KITECH", "r-old", "2026-11-26T01:00:02.000Z") is False
    assert store.mark_referral_sent(case["case_id"], "KIMS", "r-1", "2026-11-26T01:00:02.000Z") is False
    referral = store.get_referral(case["case_id"], "KITECH")
    assert referral["message_sent"] is True and referral["message_sent_at"] == "2026-11-26T01:00:01.000Z"
    assert store.get_referral(case["case_id"], "KIMS") is None


def test_a_status_move_keeps_the_sent_flag_and_reindexes_the_referral_when_applied(aws):
    store = CaseStore(aws.tables["CasesTable"])
    case = _stored_case(store, "261126-0102")
    referral = _referral(case, "KBSI", "r-2")
    store.client.transact_write_items(TransactItems=[store.referral_put_action(referral, must_be_new=True)])
    store.mark_referral_sent(case["case_id"], "KBSI", "r-2", "2026-11-26T01:00:01.000Z")

    store.client.transact_write_items(TransactItems=[
        store.referral_status_action(referral, "accepted", "2026-11-26T02:00:00.000Z", {"accepted_at": "now"})])

    moved = store.get_referral(case["case_id"], "KBSI")
    assert moved["status"] == "accepted" and moved["message_sent"] is True and moved["accepted_at"] == "now"
    assert [r["case_id"] for r in store.institute_referrals("KBSI", "accepted")] == [case["case_id"]]
    assert store.institute_referrals("KBSI", "referred") == []


def test_cases_are_read_in_order_with_only_the_asked_fields_when_fields_are_given(aws):
    store = CaseStore(aws.tables["CasesTable"])
    first, second = _stored_case(store, "261126-0103"), _stored_case(store, "261126-0104")

    cases = store.get_cases([second["case_id"], "missing", first["case_id"]], ["status"])

    assert cases == [{"case_id": second["case_id"], "status": "referred"},
                     {"case_id": first["case_id"], "status": "referred"}]
    assert store.get_cases([first["case_id"]])[0]["title"] == "용접 균열"
