"""Follow-up check-ins after resolution (simulated clock): sent 30 business days later exactly
once, through the outbox to the notification queue; the SME's answer records the outcome and can
open the next stage as a linked case; the monthly report counts outcomes per institute."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from sos1379 import followups, korea
from sos1379.coordinators.reporting import compute_stats
from sos1379.events import parse_iso, utcnow
from tests.api.test_institute_api import call, keys, referred_case  # noqa: F401 - fixtures

_ = (keys,)


def resolved_case(client, store, keys, sample_case) -> dict:
    receipt = referred_case(store, sample_case)
    base = f"/institute/referrals/{receipt['case_id']}"
    assert call(client, "POST", f"{base}/accept", keys["KITECH"]).status_code == 200
    assert call(client, "POST", f"{base}/resolve", keys["KITECH"], {"summary": "후열처리 온도를 올리세요"}).status_code == 200
    return receipt


def resolved_at(store, case_id: str):
    return parse_iso(store.get_case(case_id)["outcome"]["resolved_at"])


def test_check_in_is_sent_30_business_days_after_resolution_exactly_once_when_the_pass_reruns(
        client, store, keys, sample_case):
    receipt = resolved_case(client, store, keys, sample_case)
    case_id = receipt["case_id"]
    due = korea.add_business_days(resolved_at(store, case_id), 30)
    assert followups.send_due(store, due - timedelta(minutes=1)).sent == []  # a minute early: nothing
    first = followups.send_due(store, due)
    assert first.sent == [f"{case_id}:d30"]
    assert followups.send_due(store, due + timedelta(hours=1)).sent == []  # a rerun: nothing again
    assert followups.send_due(store, due + timedelta(days=1)).sent == []
    events = [e for e in store.history(case_id) if e["type"] == "case.follow_up"]
    assert len(events) == 1 and events[0]["data"]["stage"] == "d30"
    assert "notify" in events[0]["publish_to"]  # the outbox takes it to the SME's channels
    d90 = korea.add_business_days(resolved_at(store, case_id), 90)
    assert followups.send_due(store, d90).sent == [f"{case_id}:d90"]
    assert sorted(store.get_case(case_id)["follow_ups"]) == ["d30", "d90"]


def test_check_in_is_skipped_when_the_case_was_reopened_before_it_was_due(client, store, keys, sample_case):
    receipt = resolved_case(client, store, keys, sample_case)
    case_id = receipt["case_id"]
    case = store.get_case(case_id)
    store.update_case(case, {"status": "in_progress"})  # re-opened (resolved -> in_progress)
    run = followups.send_due(store, korea.add_business_days(resolved_at(store, case_id), 30))
    assert run.sent == [] and run.skipped == 1


def test_answer_records_outcome_once_and_opens_the_next_stage_as_a_linked_case(client, store, keys, sample_case):
    receipt = resolved_case(client, store, keys, sample_case)
    case_id, token = receipt["case_id"], receipt["tracking_token"]
    headers = {"X-Tracking-Token": token}
    body = {"stage": "d30", "result": "solved", "licensed": True, "next_service_type": "tech_transfer"}
    early = call(client, "POST", f"/cases/{case_id}/follow-up", body=body, headers=headers)
    assert early.status_code == 409  # not sent yet
    followups.send_due(store, korea.add_business_days(resolved_at(store, case_id), 30))
    view = call(client, "GET", f"/cases/{case_id}", headers=headers).json_body
    assert view["follow_up"]["pending_stage"] == "d30"
    resp = call(client, "POST", f"/cases/{case_id}/follow-up", body=body, headers=headers)
    assert resp.status_code == 200, resp.body
    nxt = resp.json_body["next_case"]
    assert nxt["case_number"] and nxt["tracking_token"]
    linked = store.get_case(nxt["case_id"])
    assert linked["service_type"] == "tech_transfer" and linked["follows"]["case_number"] == receipt["case_number"]
    assert linked["company"]["business_number"] == sample_case["company"]["business_number"]
    assert linked["contact"]["email"] == sample_case["contact"]["email"]
    original = store.get_case(case_id)
    assert original["next_cases"] == [nxt["case_number"]]
    assert original["follow_up_outcomes"]["d30"]["result"] == "solved"
    again = call(client, "POST", f"/cases/{case_id}/follow-up", body=body, headers=headers)
    assert again.status_code == 409
    assert call(client, "POST", f"/cases/{case_id}/follow-up", body=body, headers={"X-Tracking-Token": "x"}
                ).status_code == 404
    view = call(client, "GET", f"/cases/{case_id}", headers=headers).json_body
    assert view["follow_up"]["pending_stage"] is None and view["follow_up"]["next_cases"] == [nxt["case_number"]]


@pytest.mark.parametrize("body", [{"stage": "d30"}, {"stage": "d45", "result": "solved"},
                                  {"stage": "d30", "result": "solved", "next_service_type": "lunch"}])
def test_answer_answers_422_when_body_is_invalid(client, store, keys, sample_case, body):
    receipt = resolved_case(client, store, keys, sample_case)
    resp = call(client, "POST", f"/cases/{receipt['case_id']}/follow-up", body=body,
                headers={"X-Tracking-Token": receipt["tracking_token"]})
    assert resp.status_code == 422


def test_monthly_report_counts_follow_up_outcomes_per_resolving_institute(client, store, keys, sample_case):
    receipt = resolved_case(client, store, keys, sample_case)
    case_id = receipt["case_id"]
    followups.send_due(store, korea.add_business_days(resolved_at(store, case_id), 30))
    followups.answer(store, case_id, receipt["tracking_token"], {"stage": "d30", "result": "partly", "funded": True})
    month = parse_iso(store.get_case(case_id)["created_at"]).astimezone(korea.SEOUL).strftime("%Y-%m")
    report = compute_stats(store, month, now=utcnow())["follow_up"]
    assert report["by_institute"]["KITECH"]["partly"] == 1 and report["by_institute"]["KITECH"]["funded"] == 1
    assert report["total"]["answered"] == 1
    assert json.dumps(report)  # serialisable for the S3 report
