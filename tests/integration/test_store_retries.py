"""Case creation survives a retried transaction whose first try was applied (its answer lost)."""
from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from sos1379.errors import CaseNotFound
from sos1379.events import Actor, CaseEvent, iso, utcnow
from sos1379.lifecycle import EventType
from sos1379.store import CaseStore


def _case(number: str) -> tuple[dict, CaseEvent]:
    case_id = uuid.uuid4().hex
    case = {"case_id": case_id, "case_number": number, "status": "received",
            "guidance_due_at": "2026-12-01T06:00:00.000Z"}
    event = CaseEvent(case_id=case_id, type=EventType.SUBMITTED, at=iso(utcnow()),
                      actor=Actor(kind="sme", id="public"), data={})
    return case, event


def test_create_case_succeeds_when_the_same_transaction_was_already_applied(aws):
    store = CaseStore(aws.tables["CasesTable"])
    case, event = _case("261126-0001")
    store.create_case(case, event)
    store.create_case(case, event)  # botocore's retry of an applied transaction: same items
    assert store.get_case(case["case_id"])["case_number"] == "261126-0001"
    assert [e["event_id"] for e in store.history(case["case_id"])] == [event.event_id]


def test_create_case_still_fails_when_another_case_holds_the_number(aws):
    store = CaseStore(aws.tables["CasesTable"])
    first, first_event = _case("261126-0002")
    store.create_case(first, first_event)
    second, second_event = _case("261126-0002")
    with pytest.raises(ClientError):
        store.create_case(second, second_event)
    with pytest.raises(CaseNotFound):
        store.get_case(second["case_id"])
