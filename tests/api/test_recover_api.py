"""Lost-link recovery, ``POST /cases/recover``: the same 202 for a match and a non-match, the
event only on a match and only for the contact on file, rate limits per case and per client."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from chalice.test import Client

from sos1379 import intake, recovery
from sos1379.errors import RateLimited, ValidationFailed
from sos1379.lifecycle import EventType

NOW = datetime(2026, 11, 26, 3, 10, tzinfo=timezone.utc)


@pytest.fixture
def client(aws, monkeypatch):
    monkeypatch.setattr(recovery, "utcnow", lambda: NOW)  # the rate windows follow this clock, not the wall's
    from app import app

    with Client(app) as c:
        yield c


def post(client, body) -> object:
    return client.http.post("/cases/recover", headers={"Content-Type": "application/json"},
                            body=json.dumps(body, ensure_ascii=False))


def requests_of(store, case_id) -> list[dict]:
    return [e for e in store.history(case_id) if e["type"] == EventType.LINK_REQUESTED]


def test_match_and_non_match_get_the_same_202_and_only_the_match_records_a_link_request(client, store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    number = receipt["case_number"]
    match = post(client, {"case_number": number, "phone": "010-1234-5678"})
    wrong_phone = post(client, {"case_number": number, "phone": "010-9999-0000"})
    unknown = post(client, {"case_number": "991231-9999", "email": "minsu.kim@example.com"})
    assert match.status_code == wrong_phone.status_code == unknown.status_code == 202
    assert match.body == wrong_phone.body == unknown.body
    assert json.loads(match.body)["status"] == "accepted"
    (event,) = requests_of(store, receipt["case_id"])
    assert event["data"] == {"channels": ["sms"]} and event["visibility"] == "internal"
    assert event["publish_to"] == ["notify"]


def test_email_match_is_case_insensitive_and_asks_for_the_email_channel_only(client, store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    assert post(client, {"case_number": receipt["case_number"], "email": "Minsu.Kim@Example.com"}).status_code == 202
    (event,) = requests_of(store, receipt["case_id"])
    assert event["data"] == {"channels": ["email"]}


def test_public_view_does_not_show_link_requests(client, store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    post(client, {"case_number": receipt["case_number"], "phone": "+82 10-1234-5678"})
    view = intake.public_view(store, store.get_case(receipt["case_id"]))
    assert all(e["type"] != EventType.LINK_REQUESTED for e in view["history"])


@pytest.mark.parametrize("body,field", [
    ({"case_number": "12345", "phone": "010-1234-5678"}, "case_number"),
    ({"case_number": "261126-0001"}, "phone"),
    ({"case_number": "261126-0001", "phone": "010-1234-5678", "email": "a@b.kr"}, "phone"),
    ({"case_number": "261126-0001", "phone": "02-123-4567"}, "phone"),
    ({"case_number": "261126-0001", "email": "not-an-email"}, "email"),
    ({"case_number": "261126-0001", "email": "a@b.kr", "token": "x"}, "token"),
])
def test_bad_input_is_422_with_the_field_in_both_languages(client, body, field):
    response = post(client, body)
    assert response.status_code == 422 and response.headers["Content-Type"] == "application/problem+json"
    errors = {e["field"]: e for e in json.loads(response.body)["errors"]}
    assert field in errors and errors[field]["message_ko"] and errors[field]["message_en"] and errors[field]["code"]


def test_fourth_request_for_one_case_number_is_429_whether_or_not_the_case_exists(client, store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    for number in (receipt["case_number"], "991231-9998"):
        answers = [post(client, {"case_number": number, "phone": "010-5555-0000"}).status_code for _ in range(4)]
        assert answers == [202, 202, 202, 429]
    limited = post(client, {"case_number": "991231-9998", "phone": "010-5555-0000"})
    assert limited.headers["Content-Type"] == "application/problem+json" and int(limited.headers["Retry-After"]) > 0


def test_one_client_is_limited_across_case_numbers(store):
    limits = recovery.RecoveryLimits(per_case_per_hour=3, per_client_per_hour=10)
    for i in range(10):
        recovery.request_link(store, {"case_number": f"991231-{i:04d}", "phone": "010-5555-0000"},
                              client_id="203.0.113.7", now=NOW, limits=limits)
    with pytest.raises(RateLimited):
        recovery.request_link(store, {"case_number": "991231-0099", "phone": "010-5555-0000"},
                              client_id="203.0.113.7", now=NOW, limits=limits)
    # another client, and the next hour, are not limited
    recovery.request_link(store, {"case_number": "991231-0099", "phone": "010-5555-0000"},
                          client_id="198.51.100.1", now=NOW, limits=limits)
    recovery.request_link(store, {"case_number": "991231-0100", "phone": "010-5555-0000"},
                          client_id="203.0.113.7", now=NOW.replace(hour=4), limits=limits)


def test_nothing_personal_is_stored_when_the_details_do_not_match(store, sample_case):
    receipt, _ = intake.submit_case(store, sample_case)
    recovery.request_link(store, {"case_number": receipt["case_number"], "phone": "010-7777-8888"},
                          client_id="203.0.113.9", now=NOW)
    dump = json.dumps(store.table.scan()["Items"], default=str)
    assert "7777" not in dump and "203.0.113.9" not in dump


def test_request_body_must_be_an_object(store):
    with pytest.raises(ValidationFailed):
        recovery.request_link(store, ["261126-0001"], client_id="x", now=NOW)
