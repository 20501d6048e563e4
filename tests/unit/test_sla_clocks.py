"""SLA clocks over a case's history, with a controllable clock (``now`` is always passed)."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sos1379 import korea
from sos1379.events import iso
from sos1379.sla import ClockState, add_business_time, business_days_to_first_guidance, sla_status

KST = korea.SEOUL


def kst(*args) -> datetime:
    return datetime(*args, tzinfo=KST)


def case_at(received: datetime, service_type: str = "tech_consult") -> dict:
    return {"case_id": "c1", "created_at": iso(received), "service_type": service_type,
            "guidance_due_at": iso(korea.add_business_days(received, 3))}


def ev(kind: str, at: datetime, actor: str = "institute") -> dict:
    return {"type": kind, "at": iso(at), "actor": {"kind": actor, "id": "x"}, "data": {}}


def history(received: datetime, *events: dict) -> list[dict]:
    return [ev("case.submitted", received, "sme"), *events]


def test_due_time_equals_intake_promise_when_nothing_happened():
    received = kst(2026, 11, 2, 14, 0)  # Monday
    case = case_at(received)
    status = sla_status(case, history(received), received)
    assert iso(status.first_guidance.due_at) == case["guidance_due_at"]
    assert status.first_guidance.due_at == kst(2026, 11, 5, 14, 0)
    assert status.first_guidance.state == ClockState.RUNNING


def test_due_time_skips_substitute_holiday_when_received_before_long_weekend():
    # 2026-10-03 (Sat) National Foundation Day, substitute holiday Monday 10-05.
    received = kst(2026, 10, 2, 10, 0)
    status = sla_status(case_at(received), history(received), received)
    assert status.first_guidance.due_at == kst(2026, 10, 8, 10, 0)


def test_clock_is_at_risk_when_less_than_one_business_day_left():
    received = kst(2026, 11, 2, 14, 0)
    case = case_at(received)
    assert sla_status(case, history(received), kst(2026, 11, 4, 13, 0)).first_guidance.state == ClockState.RUNNING
    status = sla_status(case, history(received), kst(2026, 11, 4, 15, 0))
    assert status.first_guidance.state == ClockState.AT_RISK
    assert 0 < status.first_guidance.remaining_business_days < 1


def test_at_risk_spans_the_weekend_when_due_on_monday():
    received = kst(2026, 11, 11, 10, 0)  # Wednesday -> due Monday 10:00
    case = case_at(received)
    # Friday 11:00: 13 h left on Friday + 10 h on Monday < 1 business day.
    assert sla_status(case, history(received), kst(2026, 11, 13, 11, 0)).first_guidance.state == ClockState.AT_RISK
    assert sla_status(case, history(received), kst(2026, 11, 13, 9, 0)).first_guidance.state == ClockState.RUNNING


def test_clock_is_breached_when_due_time_passed_without_guidance():
    received = kst(2026, 11, 2, 14, 0)
    status = sla_status(case_at(received), history(received), kst(2026, 11, 5, 14, 1))
    assert status.first_guidance.state == ClockState.BREACHED
    assert status.first_guidance.breached_at == kst(2026, 11, 5, 14, 0)
    assert status.first_guidance.remaining_business_days < 0


def test_accepted_referral_does_not_stop_first_guidance_clock_when_no_answer_given():
    received = kst(2026, 11, 2, 14, 0)
    hist = history(received, ev("case.referred", kst(2026, 11, 2, 15, 0), "system"),
                   ev("case.accepted", kst(2026, 11, 3, 9, 0)))
    assert sla_status(case_at(received), hist, kst(2026, 11, 6)).first_guidance.state == ClockState.BREACHED


@pytest.mark.parametrize("kind", ["case.guidance_given", "case.resolved", "case.handed_off"])
def test_first_guidance_is_met_on_time_when_answered_before_due(kind):
    received = kst(2026, 11, 2, 14, 0)
    hist = history(received, ev(kind, kst(2026, 11, 4, 10, 0), "coordinator"))
    clock = sla_status(case_at(received), hist, kst(2026, 11, 20)).first_guidance
    assert clock.state == ClockState.MET and clock.on_time is True
    assert clock.stopped_by == kind


def test_late_answer_stops_clock_but_counts_as_miss_when_given_after_due():
    received = kst(2026, 11, 2, 14, 0)
    hist = history(received, ev("case.guidance_given", kst(2026, 11, 6, 10, 0), "coordinator"))
    clock = sla_status(case_at(received), hist, kst(2026, 11, 20)).first_guidance
    assert clock.state == ClockState.MET and clock.on_time is False


def test_paused_clock_is_not_breached_when_waiting_on_the_sme_past_original_due():
    received = kst(2026, 11, 2, 14, 0)
    hist = history(received, ev("case.info_requested", kst(2026, 11, 3, 14, 0)))
    clock = sla_status(case_at(received), hist, kst(2026, 11, 10, 12, 0)).first_guidance
    assert clock.state == ClockState.PAUSED
    assert clock.breached_at is None
    assert clock.remaining_business_days == pytest.approx(2.0)


def test_due_time_moves_by_paused_business_time_when_sme_answers():
    received = kst(2026, 11, 2, 14, 0)  # due Thu 11-05 14:00
    hist = history(received, ev("case.info_requested", kst(2026, 11, 3, 14, 0)),
                   ev("case.info_provided", kst(2026, 11, 5, 14, 0), "sme"))  # paused 2 business days
    clock = sla_status(case_at(received), hist, kst(2026, 11, 5, 15, 0)).first_guidance
    assert clock.state == ClockState.RUNNING
    assert clock.due_at == kst(2026, 11, 9, 14, 0)  # Thu + 2 business days = Monday
    assert clock.paused_business_days == pytest.approx(2.0)


def test_weekend_pause_does_not_move_due_when_paused_only_over_weekend():
    received = kst(2026, 11, 11, 10, 0)  # Wed, due Mon 11-16 10:00
    hist = history(received, ev("case.info_requested", kst(2026, 11, 14, 10, 0)),
                   ev("case.info_provided", kst(2026, 11, 15, 20, 0), "sme"))
    clock = sla_status(case_at(received), hist, kst(2026, 11, 16, 9, 0)).first_guidance
    assert clock.due_at == kst(2026, 11, 16, 10, 0)


def test_late_event_recomputes_to_met_when_it_arrives_after_the_breach_was_seen():
    received = kst(2026, 11, 2, 14, 0)
    case = case_at(received)
    now = kst(2026, 11, 6, 9, 0)
    assert sla_status(case, history(received), now).first_guidance.state == ClockState.BREACHED
    late = history(received, ev("case.guidance_given", kst(2026, 11, 5, 11, 0), "counselor"))
    clock = sla_status(case, late, now).first_guidance
    assert clock.state == ClockState.MET and clock.on_time is True


def test_events_after_now_are_ignored_when_computing_at_a_past_instant():
    received = kst(2026, 11, 2, 14, 0)
    hist = history(received, ev("case.resolved", kst(2026, 11, 4, 10, 0)))
    assert sla_status(case_at(received), hist, kst(2026, 11, 3, 10, 0)).first_guidance.state == ClockState.RUNNING


def test_resolution_target_comes_from_service_data_when_service_type_set():
    received = kst(2026, 11, 2, 14, 0)
    consult = sla_status(case_at(received, "tech_consult"), history(received), received).resolution
    transfer = sla_status(case_at(received, "tech_transfer"), history(received), received).resolution
    assert consult.target_business_days == 20 and transfer.target_business_days == 30
    assert korea.business_days_between(received, transfer.due_at) == pytest.approx(30)


def test_withdrawn_case_cancels_both_clocks_when_no_guidance_was_given():
    received = kst(2026, 11, 2, 14, 0)
    status = sla_status(case_at(received), history(received, ev("case.withdrawn", kst(2026, 11, 3), "sme")),
                        kst(2026, 12, 30))
    assert {c.state for c in status.clocks} == {ClockState.CANCELLED}
    assert status.next_due_at is None


def test_next_due_moves_to_resolution_when_guidance_met():
    received = kst(2026, 11, 2, 14, 0)
    status = sla_status(case_at(received), history(received, ev("case.guidance_given", kst(2026, 11, 3))),
                        kst(2026, 11, 4))
    assert status.next_due_at == status.resolution.due_at


def test_first_guidance_days_exclude_pauses_when_measured():
    received = kst(2026, 11, 2, 14, 0)
    hist = history(received, ev("case.info_requested", kst(2026, 11, 3, 14, 0)),
                   ev("case.info_provided", kst(2026, 11, 5, 14, 0), "sme"),
                   ev("case.guidance_given", kst(2026, 11, 6, 14, 0)))
    assert business_days_to_first_guidance(case_at(received), hist, kst(2026, 11, 30)) == pytest.approx(2.0)


@settings(max_examples=150, deadline=None)
@given(start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1)),
       days=st.floats(min_value=0.01, max_value=40))
def test_add_business_time_is_inverse_of_business_days_between_when_moving_forward_and_back(start, days):
    start = start.replace(tzinfo=KST)
    if not korea.is_business_day(start.date()):
        start = add_business_time(start, 0.01)
    end = add_business_time(start, days)
    assert korea.business_days_between(start, end) == pytest.approx(days, abs=1e-6)
    assert abs((add_business_time(end, -days) - start).total_seconds()) < 1e-3


def test_add_business_time_skips_chuseok_when_crossing_it():
    # 2026-09-24..26 Chuseok (Thu-Sat), 27 Sunday: Wednesday noon + 1 day lands on Monday noon.
    assert add_business_time(kst(2026, 9, 23, 12, 0), 1.0) == kst(2026, 9, 28, 12, 0)
    assert add_business_time(kst(2026, 9, 28, 12, 0), -1.0) == kst(2026, 9, 23, 12, 0)
    assert add_business_time(kst(2026, 9, 28, 0, 0), -0.5) == kst(2026, 9, 23, 12, 0)
    assert timedelta(0) == add_business_time(kst(2026, 9, 28), 0) - kst(2026, 9, 28)
