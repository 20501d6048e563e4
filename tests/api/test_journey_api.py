"""Withdraw (SME, tracking token) and start (institute, API key) through chalice.test.Client."""
from __future__ import annotations

from datetime import timedelta

from sos1379.events import parse_iso
from sos1379.sla import sla_status
from sos1379.sla.clocks import ClockState
from tests.api.test_institute_api import call, keys, referred_case  # noqa: F401 - fixtures

_ = (keys,)


def withdraw(client, case_id: str, token: str | None, body: dict | None = None):
    headers = {"X-Tracking-Token": token} if token is not None else {}
    return call(client, "POST", f"/cases/{case_id}/withdraw", body=body, headers=headers)


def test_withdraw_moves_open_case_to_withdrawn_once_when_repeated(client, store, keys, sample_case):
    receipt = referred_case(store, sample_case)
    case_id, token = receipt["case_id"], receipt["tracking_token"]
    first = withdraw(client, case_id, token, {"reason": "자체 해결했습니다"})
    assert first.status_code == 200, first.body
    assert first.json_body["status"] == "withdrawn" and first.json_body["changed"] is True
    version = store.get_case(case_id)["version"]
    again = withdraw(client, case_id, token)
    assert again.status_code == 200 and again.json_body["changed"] is False
    assert again.json_body["withdrawn_at"] == first.json_body["withdrawn_at"]
    assert store.get_case(case_id)["version"] == version  # the repeat wrote nothing
    events = [e for e in store.history(case_id) if e["type"] == "case.withdrawn"]
    assert len(events) == 1 and events[0]["data"]["institutes"] == ["KITECH"]
    view = call(client, "GET", f"/cases/{case_id}", headers={"X-Tracking-Token": token}).json_body
    assert view["status"] == "withdrawn"
    assert view["history"][-1]["type"] == "case.withdrawn"
    assert view["history"][-1]["data"]["reason_public"] == "자체 해결했습니다"


def test_withdraw_answers_404_when_token_is_missing_wrong_or_another_cases(client, store, sample_case):
    mine = referred_case(store, sample_case)
    other = referred_case(store, sample_case)
    for token in (None, "", "wrong-token", other["tracking_token"]):
        resp = withdraw(client, mine["case_id"], token)
        assert resp.status_code == 404, token
        assert resp.headers["Content-Type"] == "application/problem+json"
    assert withdraw(client, "0" * 32, mine["tracking_token"]).status_code == 404
    assert store.get_case(mine["case_id"])["status"] == "referred"


def test_withdraw_tells_the_referred_institute_through_its_referral_when_case_was_referred(
        client, store, keys, sample_case):
    receipt = referred_case(store, sample_case)
    case_id = receipt["case_id"]
    assert withdraw(client, case_id, receipt["tracking_token"]).status_code == 200
    listed = call(client, "GET", "/institute/referrals?status=withdrawn", keys["KITECH"]).json_body["referrals"]
    assert [r["case_id"] for r in listed] == [case_id]
    detail = call(client, "GET", f"/institute/referrals/{case_id}", keys["KITECH"]).json_body
    assert detail["referral"]["status"] == "withdrawn" and detail["case"]["status"] == "withdrawn"
    assert detail["message"]["contact"] is None  # no contact details once the SME withdrew
    assert call(client, "POST", f"/institute/referrals/{case_id}/accept", keys["KITECH"]).status_code == 409


def test_withdraw_answers_409_when_case_is_already_resolved(client, store, keys, sample_case):
    receipt = referred_case(store, sample_case)
    case_id = receipt["case_id"]
    base = f"/institute/referrals/{case_id}"
    assert call(client, "POST", f"{base}/accept", keys["KITECH"]).status_code == 200
    assert call(client, "POST", f"{base}/resolve", keys["KITECH"], {"summary": "열처리 온도를 올리세요"}).status_code == 200
    resp = withdraw(client, case_id, receipt["tracking_token"])
    assert resp.status_code == 409 and store.get_case(case_id)["status"] == "resolved"


def test_withdraw_answers_422_when_reason_is_too_long_or_field_unknown(client, store, sample_case):
    receipt = referred_case(store, sample_case)
    for body in ({"reason": "가" * 1001}, {"why": "x"}):
        resp = withdraw(client, receipt["case_id"], receipt["tracking_token"], body)
        assert resp.status_code == 422
        assert resp.json_body["errors"][0]["message_ko"] and resp.json_body["errors"][0]["message_en"]


def test_withdraw_stops_sla_clocks_and_leaves_the_open_index_when_withdrawn(client, store, sample_case):
    receipt = referred_case(store, sample_case)
    case_id = receipt["case_id"]
    assert withdraw(client, case_id, receipt["tracking_token"]).status_code == 200
    case = store.get_case(case_id)
    later = parse_iso(case["guidance_due_at"]) + timedelta(days=30)
    status = sla_status(case, store.history(case_id), later)
    assert {c.state for c in status.clocks} == {ClockState.CANCELLED}
    assert case_id not in {c["case_id"] for c in store.open_cases_due_before("~")}


def test_start_moves_accepted_case_to_in_progress_once_when_repeated(client, store, keys, sample_case):
    receipt = referred_case(store, sample_case)
    case_id = receipt["case_id"]
    base = f"/institute/referrals/{case_id}"
    assert call(client, "POST", f"{base}/start", keys["KITECH"]).status_code == 409  # not accepted yet
    assert call(client, "POST", f"{base}/accept", keys["KITECH"]).status_code == 200
    assert call(client, "POST", f"{base}/start", keys["KIMS"]).status_code == 404  # not theirs
    assert call(client, "POST", f"{base}/start", None).status_code == 401
    started = call(client, "POST", f"{base}/start", keys["KITECH"])
    assert started.status_code == 200 and started.json_body == {"case_id": case_id, "status": "in_progress",
                                                                "changed": True}
    again = call(client, "POST", f"{base}/start", keys["KITECH"])
    assert again.status_code == 200 and again.json_body["changed"] is False
    assert [e["type"] for e in store.history(case_id)].count("case.in_progress") == 1
    view = call(client, "GET", f"/cases/{case_id}", headers={"X-Tracking-Token": receipt["tracking_token"]})
    assert view.json_body["status"] == "in_progress" and view.json_body["status_label"]["en"] == "In progress"
    done = call(client, "POST", f"{base}/resolve", keys["KITECH"], {"summary": "후열처리 온도를 300도로 올리세요"})
    assert done.status_code == 200 and done.json_body["status"] == "resolved"


def test_in_progress_case_can_still_be_withdrawn_by_the_sme(client, store, keys, sample_case):
    receipt = referred_case(store, sample_case)
    case_id = receipt["case_id"]
    base = f"/institute/referrals/{case_id}"
    call(client, "POST", f"{base}/accept", keys["KITECH"])
    call(client, "POST", f"{base}/start", keys["KITECH"])
    assert withdraw(client, case_id, receipt["tracking_token"]).json_body["status"] == "withdrawn"
    assert store.referrals(case_id)[0]["status"] == "withdrawn"
